package sso

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rolecall/rolecall/creds"
)

// Fetch implements creds.Fetcher: role credentials for an AWS config
// profile (GetRoleCredentials, plus STS AssumeRole for role_arn chains) or
// for a discovered account and role.
func (c *Client) Fetch(ctx context.Context, p creds.Profile) (creds.Credentials, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return creds.Credentials{}, err
	}
	if _, ok := cfg.Profiles[p.Name]; ok {
		prof, err := cfg.resolve(ctx, p.Name)
		if err != nil {
			return creds.Credentials{}, err
		}
		return c.fetchProfile(ctx, cfg, prof, 0)
	}
	if p.AccountID == "" || p.RoleName == "" {
		if why, ok := cfg.Skipped[p.Name]; ok {
			return creds.Credentials{}, creds.Errorf(creds.CannotServe, creds.ErrPermanent, p.Name, why)
		}
		return creds.Credentials{}, fmt.Errorf("no profile %s in %s: %w", p.Name, cfg.Path, creds.ErrPermanent)
	}
	s, ok := cfg.Sessions[p.Session]
	if !ok {
		return creds.Credentials{}, fmt.Errorf("%s: sso-session %q is gone from %s: %w", p.Name, p.Session, cfg.Path, creds.ErrPermanent)
	}
	return c.roleCredentials(ctx, s, p.AccountID, p.RoleName)
}

// maxChain bounds role_arn chains (the SDK refuses cycles already).
const maxChain = 8

func (c *Client) fetchProfile(ctx context.Context, cfg *AWSConfig, p *resolvedProfile, depth int) (creds.Credentials, error) {
	if depth > maxChain {
		return creds.Credentials{}, fmt.Errorf("profile %s: role chain longer than %d: %w", p.Name, maxChain, creds.ErrPermanent)
	}
	if ls, ok := cfg.LoginSessions[p.Session]; ok {
		if p.RoleARN == "" {
			// Served as they are (depth 0), or the source of a chain.
			return c.loginCredentials(ctx, ls, depth == 0)
		}
		srcCreds, err := c.fetchProfile(ctx, cfg, p.src, depth+1)
		if err != nil {
			return creds.Credentials{}, err
		}
		return c.assumeRole(ctx, ls.Region, p.Profile, srcCreds, func(*sts.Client) string { return loginSessionName(ls.ARN) })
	}
	s, ok := cfg.Sessions[p.Session]
	if !ok {
		return creds.Credentials{}, fmt.Errorf("profile %s: no sso-session %q: %w", p.Name, p.Session, creds.ErrPermanent)
	}
	if p.RoleARN == "" {
		return c.roleCredentials(ctx, s, p.AccountID, p.RoleName)
	}
	srcCreds, err := c.fetchProfile(ctx, cfg, p.src, depth+1)
	if err != nil {
		return creds.Credentials{}, err
	}
	return c.assumeRole(ctx, s.Region, p.Profile, srcCreds, func(client *sts.Client) string { return c.userName(ctx, s, client) })
}

// loginSessionName names a chain's role session after the principal of
// the login session below it: the IAM user, the federated session's name,
// or "root".
func loginSessionName(arn string) string {
	name := arn[strings.LastIndexAny(arn, ":/")+1:]
	name = badSessionChars.ReplaceAllString(name, "-")
	if len(name) < 2 {
		name = "rolecall"
	}
	return name[:min(len(name), 64)]
}

// roleCredentials calls GetRoleCredentials. A 401 means the token is gone:
// it is dropped and the error says login required (no loop).
func (c *Client) roleCredentials(ctx context.Context, s *Session, account, role string) (creds.Credentials, error) {
	if err := c.gateOpen(s); err != nil {
		return creds.Credentials{}, err
	}
	tok, err := c.token(ctx, s)
	if err != nil {
		return creds.Credentials{}, err
	}
	portal, err := c.portal(ctx, s.Region)
	if err != nil {
		return creds.Credentials{}, err
	}
	out, err := portal.GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
		AccessToken: aws.String(tok.AccessToken), AccountId: aws.String(account), RoleName: aws.String(role),
	})
	c.noteAnswer(s, err)
	if err != nil {
		return creds.Credentials{}, c.portalError(s, tok, "get role credentials for "+account+"/"+role, err)
	}
	rc := out.RoleCredentials
	if rc == nil {
		return creds.Credentials{}, errors.New("get role credentials: empty answer")
	}
	return creds.Credentials{
		AccessKeyID:     aws.ToString(rc.AccessKeyId),
		SecretAccessKey: aws.ToString(rc.SecretAccessKey),
		SessionToken:    aws.ToString(rc.SessionToken),
		Expiration:      time.UnixMilli(rc.Expiration).UTC(),
		Issued:          c.opts.Now(),
		// The role behind a permission set has a generated name
		// (AWSReservedSSO_...); the permission set's name is shown.
		RoleARN:   "arn:aws:iam::" + account + ":role/" + role,
		AccountID: account,
	}, nil
}

// portalError maps the portal's errors: 401 ends the session's token.
func (c *Client) portalError(s *Session, tok *Token, op string, err error) error {
	var unauth *ssotypes.UnauthorizedException
	if errors.As(err, &unauth) {
		c.forgetToken(s, tok)
		return fmt.Errorf("%s: IAM Identity Center no longer accepts the sso session %s: %w", op, s.Key, creds.ErrLoginRequired)
	}
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "ForbiddenException" || api.ErrorCode() == "ResourceNotFoundException") {
		// The permission set or the account was taken away.
		return fmt.Errorf("%s: IAM Identity Center refuses it (%s: %s): %w", op, api.ErrorCode(), api.ErrorMessage(), creds.ErrPermanent)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isLoginRequired(err error) bool { return errors.Is(err, creds.ErrLoginRequired) }

var badSessionChars = regexp.MustCompile(`[^\w+=,.@-]`)

// assumeRole is the STS hop of a role_arn chain, in the profile's region
// or else the session's. The role session is named after the user (as the
// console does: sessionName), unless role_session_name says otherwise.
func (c *Client) assumeRole(ctx context.Context, region string, p *Profile, src creds.Credentials, sessionName func(*sts.Client) string) (creds.Credentials, error) {
	if p.Region != "" {
		region = p.Region
	}
	client, err := c.sts(ctx, region, src)
	if err != nil {
		return creds.Credentials{}, err
	}
	name := p.RoleSessionName
	if name == "" {
		name = sessionName(client)
	}
	in := &sts.AssumeRoleInput{RoleArn: aws.String(p.RoleARN), RoleSessionName: aws.String(name)}
	if p.Duration > 0 {
		in.DurationSeconds = aws.Int32(int32(p.Duration / time.Second))
	}
	if p.ExternalID != "" {
		in.ExternalId = aws.String(p.ExternalID)
	}
	out, err := client.AssumeRole(ctx, in)
	if err != nil {
		return creds.Credentials{}, fmt.Errorf("profile %s: assume role %s: %w", p.Name, p.RoleARN, err)
	}
	account := ""
	if parts := strings.Split(p.RoleARN, ":"); len(parts) > 4 {
		account = parts[4]
	}
	return creds.Credentials{
		AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken:    aws.ToString(out.Credentials.SessionToken),
		Expiration:      aws.ToTime(out.Credentials.Expiration).UTC(),
		Issued:          c.opts.Now(),
		RoleARN:         p.RoleARN,
		AccountID:       account,
	}, nil
}

// userName is the SSO user's name: the session part of the caller's
// assumed-role ARN (".../AWSReservedSSO_Admin_abc/alice@example.com").
func (c *Client) userName(ctx context.Context, s *Session, client *sts.Client) string {
	st := c.state(s.Key)
	c.mu.Lock()
	u := st.user
	c.mu.Unlock()
	if u != "" {
		return u
	}
	u = "rolecall"
	if out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		arn := aws.ToString(out.Arn)
		if i := strings.LastIndexByte(arn, '/'); i >= 0 && strings.Contains(arn, ":assumed-role/") {
			u = badSessionChars.ReplaceAllString(arn[i+1:], "-")
		}
	}
	if len(u) > 64 {
		u = u[:64]
	}
	c.mu.Lock()
	st.user = u
	c.mu.Unlock()
	return u
}

// Resolve turns a profile name, or an account and role, into the profile
// to load; unknown names are an error, so that a typo never replaces a slot.
// A typo is answered with the likely name, never with a login.
func (c *Client) Resolve(ctx context.Context, name, account, role string) (creds.Profile, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return creds.Profile{}, err
	}
	if cfg.Missing {
		return creds.Profile{}, creds.Errorf(creds.NoAWSConfig, nil, cfg.Path)
	}
	if name != "" {
		if p, ok := cfg.Profiles[name]; ok {
			return creds.Profile{Name: name, Session: p.Session, Definition: cfg.definition(name), Region: p.Region}, nil
		}
		if why, ok := cfg.Skipped[name]; ok {
			return creds.Profile{}, creds.Errorf(creds.CannotServe, creds.ErrPermanent, name, why)
		}
		// Discovered names hold a slash: a name without one can only be
		// a profile, found without asking Identity Center.
		if !strings.Contains(name, "/") {
			if s := suggest(name, profileNames(cfg)); s != "" {
				return creds.Profile{}, creds.Errorf(creds.DidYouMean, creds.ErrPermanent, name, s)
			}
		}
	}
	roles, needLogin, err := c.Roles(ctx)
	if err != nil {
		return creds.Profile{}, err
	}
	var matches []Role
	for _, r := range roles {
		switch {
		case r.Kind != "discovered":
		case name != "" && r.Name == name:
			return discovered(cfg, r), nil
		case name != "" && baseName(r) == name, name == "" && r.AccountID == account && r.RoleName == role:
			matches = append(matches, r)
		}
	}
	switch len(matches) {
	case 1:
		return discovered(cfg, matches[0]), nil
	case 0:
	default:
		var choices []string
		for _, r := range matches {
			choices = append(choices, strconv.Quote(r.Name))
		}
		return creds.Profile{}, creds.Errorf(creds.AmbiguousRole, creds.ErrPermanent, name, creds.List(choices))
	}
	if name == "" {
		if len(needLogin) > 0 {
			return creds.Profile{}, &creds.NeedsLogin{Session: needLogin[0],
				Err: creds.Errorf(creds.NotSignedInRole, creds.ErrLoginRequired, role, account, creds.List(needLogin), needLogin[0])}
		}
		return creds.Profile{}, creds.Errorf(creds.NoSuchRole, creds.ErrPermanent, role, account)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	if s := suggest(name, names); s != "" {
		return creds.Profile{}, creds.Errorf(creds.DidYouMean, creds.ErrPermanent, name, s)
	}
	if len(needLogin) > 0 {
		return creds.Profile{}, &creds.NeedsLogin{Session: needLogin[0],
			Err: creds.Errorf(creds.NotSignedIn, creds.ErrLoginRequired, name, creds.List(needLogin), needLogin[0])}
	}
	return creds.Profile{}, creds.Errorf(creds.NoSuchProfile, creds.ErrPermanent, name)
}

// discovered is the profile of a discovered role; its region is its SSO
// session's (a role has none of its own), as `aws configure sso` proposes.
func discovered(cfg *AWSConfig, r Role) creds.Profile {
	p := creds.Profile{Name: r.Name, AccountID: r.AccountID, RoleName: r.RoleName, Session: r.Session}
	if s, ok := cfg.Sessions[r.Session]; ok {
		p.Region = s.Region
	}
	return p
}

func profileNames(cfg *AWSConfig) []string {
	var names []string
	for n := range cfg.Profiles {
		names = append(names, n)
	}
	return names
}

// Logout ends session s: the portal's Logout, then the token, the
// registration and the cached discovery are forgotten.
func (c *Client) Logout(ctx context.Context, s *Session) error {
	c.CancelLogin(s.Key)
	c.endSession(ctx, s)
	err := c.opts.Keyring.Delete(deviceClient.entry(s.Key))
	return errors.Join(err, c.opts.Keyring.Delete(pkceClient.entry(s.Key)))
}

// endSession ends the Identity Center session of s with the portal's
// Logout (which signs the browser out of it too, so that the next login
// starts a new session) and forgets its token.
func (c *Client) endSession(ctx context.Context, s *Session) {
	st := c.state(s.Key)
	c.mu.Lock()
	tok := st.token
	c.mu.Unlock()
	if tok == nil {
		tok, _ = c.storedToken(s, "")
	}
	if tok != nil {
		if portal, err := c.portal(ctx, s.Region); err == nil {
			if _, err := portal.Logout(ctx, &sso.LogoutInput{AccessToken: aws.String(tok.AccessToken)}); err != nil {
				c.log.Warn("portal logout failed; forgetting the token anyway", "session", s.Key, "err", err)
			}
		}
	}
	c.forgetToken(s, nil)
	c.mu.Lock()
	if tok != nil {
		st.rejected = tok.AccessToken // logged out: not to be loaded again
	}
	st.user = ""
	c.mu.Unlock()
}
