package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
)

// Role is a role the user can load: an AWS config profile, or a role
// discovered in IAM Identity Center.
type Role struct {
	// Name is what `rolecall load --profile` takes: the profile name, or
	// "<account name>/<role name>" for a discovered role, followed by
	// " (<session>)" when two sessions have a role of that name.
	Name        string `json:"name"`
	Kind        string `json:"kind"` // "profile" or "discovered"
	Session     string `json:"session"`
	AccountID   string `json:"account_id,omitempty"`
	AccountName string `json:"account_name,omitempty"`
	RoleName    string `json:"role_name,omitempty"`
}

// discovery is the cached result of listing one session's accounts and
// roles.
type discovery struct {
	at    time.Time
	roles []Role
}

// Roles lists the AWS config profiles and the roles discovered in every
// session that is signed in. Sessions that need a login are named in
// NeedLogin; they do not make the call fail.
func (c *Client) Roles(ctx context.Context) (roles []Role, needLogin []string, err error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Missing {
		return nil, nil, creds.Errorf(creds.NoAWSConfig, nil, cfg.Path)
	}
	roles = cfg.profileRoles()
	var keys []string
	for k := range cfg.Sessions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		found, err := c.discover(ctx, cfg.Sessions[k])
		if err != nil {
			if isLoginRequired(err) {
				needLogin = append(needLogin, k)
				continue
			}
			return nil, nil, err
		}
		roles = append(roles, found...)
	}
	return disambiguate(roles), needLogin, nil
}

// disambiguate adds the session to the names of discovered roles that two
// sessions share ("Acme/ReadOnly (corp)"); the cached discoveries keep
// their own names.
func disambiguate(roles []Role) []Role {
	sessions := map[string]map[string]bool{}
	for _, r := range roles {
		if r.Kind == "discovered" {
			if sessions[r.Name] == nil {
				sessions[r.Name] = map[string]bool{}
			}
			sessions[r.Name][r.Session] = true
		}
	}
	for i, r := range roles {
		if r.Kind == "discovered" && len(sessions[r.Name]) > 1 {
			roles[i].Name = r.Name + " (" + r.Session + ")"
		}
	}
	return roles
}

// baseName is a discovered role's name without the session added by
// disambiguate.
func baseName(r Role) string { return strings.TrimSuffix(r.Name, " ("+r.Session+")") }

// profileRoles lists the config's profiles as roles, sorted by name: made
// once per view of the file. Callers may append to it, never write in it.
func (cfg *AWSConfig) profileRoles() []Role {
	cfg.rolesOnce.Do(func() {
		roles := make([]Role, 0, len(cfg.Profiles))
		for name, p := range cfg.Profiles {
			roles = append(roles, Role{Name: name, Kind: "profile", Session: p.Session, AccountID: p.AccountID, RoleName: p.RoleName})
		}
		slices.SortFunc(roles, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
		cfg.roles = roles
	})
	return slices.Clip(cfg.roles)
}

// CachedRoles is Roles without network calls: the AWS config profiles and
// what discovery found last, for menus that must never wait.
func (c *Client) CachedRoles(ctx context.Context) ([]Role, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	roles := cfg.profileRoles()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range cfg.Sessions {
		if st, ok := c.sessions[k]; ok && st.found != nil {
			roles = append(roles, st.found.roles...)
		}
	}
	return disambiguate(roles), nil
}

// discoverCall is one discovery of a session, which every caller arriving
// meanwhile waits for.
type discoverCall struct {
	done  chan struct{}
	roles []Role
	err   error
}

// isKeyringState reports whether err is the keyring not handing over the
// session's token (locked, silent, absent) rather than a failure upstream.
func isKeyringState(err error) bool {
	return errors.Is(err, keyring.ErrLocked) || errors.Is(err, keyring.ErrTimeout) || errors.Is(err, keyring.ErrNoKeyring)
}

// discoverPause is how long a failed discovery (throttled, unreachable)
// answers for the next ones: names nobody knows, asked again and again,
// must not multiply the calls to a service that is failing.
//
// Five seconds, the manager's first retry step: a failed discovery ends
// after its own attempts (up to 8 while throttled), so the pause only
// spares what arrives right after it, and slots waiting for it retry when
// it ends (creds.Paused): an outage over, discovered roles serve again
// within seconds (30 s here kept them 503 past their retry).
const discoverPause = 5 * time.Second

// discover lists the accounts and roles of session s (cached for
// DiscoveryTTL): all pages, the accounts' roles fetched concurrently up to
// Concurrency at a time. Concurrent callers share one discovery, and a
// failed one answers for discoverPause.
func (c *Client) discover(ctx context.Context, s *Session) ([]Role, error) {
	st := c.state(s.Key)
	for {
		c.mu.Lock()
		now := c.opts.Now()
		if d := st.found; d != nil && now.Sub(d.at) < c.opts.DiscoveryTTL {
			c.mu.Unlock()
			return d.roles, nil
		}
		if st.discoverErr != nil && now.Before(st.discoverRetry) {
			err := st.discoverErr
			c.mu.Unlock()
			return nil, &creds.Paused{Until: st.discoverRetry, Err: err}
		}
		call := st.discovering
		if call == nil {
			call = &discoverCall{done: make(chan struct{})}
			st.discovering = call
			c.mu.Unlock()
			call.roles, call.err = c.discoverNow(ctx, s)
			c.mu.Lock()
			st.discovering = nil
			switch {
			case call.err == nil || isLoginRequired(call.err) || isKeyringState(call.err):
				// Not Identity Center failing: a locked or silent
				// keyring is asked again as soon as it answers.
				st.discoverErr = nil
			case ctx.Err() == nil:
				st.discoverErr, st.discoverRetry = call.err, c.opts.Now().Add(discoverPause)
			}
			c.mu.Unlock()
			close(call.done)
			return call.roles, call.err
		}
		c.mu.Unlock()
		select {
		case <-call.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if call.err == nil || ctx.Err() != nil || !errors.Is(call.err, context.Canceled) && !errors.Is(call.err, context.DeadlineExceeded) {
			return call.roles, call.err
		}
		// The caller that ran it went away; this one still waits: again.
	}
}

// discoverNow is one discovery of session s.
func (c *Client) discoverNow(ctx context.Context, s *Session) ([]Role, error) {
	st := c.state(s.Key)
	tok, err := c.token(ctx, s)
	if err != nil {
		return nil, err
	}
	portal, err := c.portal(ctx, s.Region)
	if err != nil {
		return nil, err
	}
	accounts, err := c.listAccounts(ctx, portal, s, tok)
	if err != nil {
		return nil, err
	}
	names := accountNames(accounts)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, c.opts.Concurrency)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		found    []Role
		firstErr error
	)
	for _, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			roles, err := c.accountRoles(ctx, portal, s, tok, a, names[a.id])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			found = append(found, roles...)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	slices.SortFunc(found, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	c.mu.Lock()
	st.found = &discovery{at: c.opts.Now(), roles: found}
	c.mu.Unlock()
	return found, nil
}

// listAccounts lists every page of the accounts session s reaches.
func (c *Client) listAccounts(ctx context.Context, portal *sso.Client, s *Session, tok *Token) ([]accountInfo, error) {
	var accounts []accountInfo
	pages := sso.NewListAccountsPaginator(portal, &sso.ListAccountsInput{AccessToken: aws.String(tok.AccessToken), MaxResults: aws.Int32(100)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx, throttled)
		if err != nil {
			return nil, c.portalError(s, tok, "list accounts", err)
		}
		for _, a := range out.AccountList {
			accounts = append(accounts, accountInfo{id: aws.ToString(a.AccountId), name: aws.ToString(a.AccountName)})
		}
	}
	return accounts, nil
}

type accountInfo struct{ id, name string }

// accountNames gives each account the name its roles are listed under:
// the account name, with the id added where two accounts share a name.
func accountNames(accounts []accountInfo) map[string]string {
	seen := map[string]int{}
	for _, a := range accounts {
		seen[a.name]++
	}
	out := map[string]string{}
	for _, a := range accounts {
		switch {
		case a.name == "":
			out[a.id] = a.id
		case seen[a.name] > 1:
			out[a.id] = fmt.Sprintf("%s (%s)", a.name, a.id)
		default:
			out[a.id] = a.name
		}
	}
	return out
}

func (c *Client) accountRoles(ctx context.Context, portal *sso.Client, s *Session, tok *Token, a accountInfo, label string) ([]Role, error) {
	var roles []Role
	pages := sso.NewListAccountRolesPaginator(portal, &sso.ListAccountRolesInput{
		AccessToken: aws.String(tok.AccessToken), AccountId: aws.String(a.id), MaxResults: aws.Int32(100),
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx, throttled)
		if err != nil {
			return nil, c.portalError(s, tok, "list roles of account "+a.id, err)
		}
		for _, r := range out.RoleList {
			name := aws.ToString(r.RoleName)
			roles = append(roles, Role{
				Name: label + "/" + name, Kind: "discovered", Session: s.Key,
				AccountID: a.id, AccountName: a.name, RoleName: name,
			})
		}
	}
	return roles, nil
}
