package sso

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc/types"

	"github.com/rolecall/rolecall/creds"
)

// Token is an IAM Identity Center access token and what renews it.
type Token struct {
	AccessToken  string    `json:"accessToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	StartURL     string    `json:"startUrl"`
	Region       string    `json:"region"`
	// Client is the registration that issued it, and so the one that can
	// renew it: the device flow's or PKCE's.
	Client clientKind `json:"client,omitempty"`
	// SignedInAt is when the user signed in to the session (a login, in
	// rolecall or with `aws sso login`), kept through renewals: Identity
	// Center ends the session a fixed time after it. Zero when unknown
	// (a token stored by an older rolecall).
	SignedInAt time.Time `json:"signedInAt,omitzero"`
	// cliRefresh is the AWS CLI's refresh token of a token read from its
	// cache: the same one again means the same sign-in.
	cliRefresh string
}

// registration is an OIDC client registration, reused until shortly before
// it expires.
type registration struct {
	ClientID     string    `json:"clientId"`
	ClientSecret string    `json:"clientSecret"`
	ExpiresAt    time.Time `json:"expiresAt"`
	Scopes       []string  `json:"scopes"`
	StartURL     string    `json:"startUrl"`
	Region       string    `json:"region"`
}

// renewBefore: an access token with less time left is renewed with the
// refresh token before use.
const renewBefore = 15 * time.Minute

// token returns a usable access token for session s, renewing it silently
// when it is close to expiry. Without one it returns an error wrapping
// creds.ErrLoginRequired; it never starts a login.
func (c *Client) token(ctx context.Context, s *Session) (*Token, error) {
	t, err := c.current(ctx, s)
	if err != nil {
		return nil, err
	}
	now := c.opts.Now()
	if t != nil && t.ExpiresAt.Sub(now) > renewBefore {
		return t, nil
	}
	if t != nil && t.RefreshToken != "" {
		renewed, err := c.renew(ctx, s, t)
		if err == nil {
			return renewed, nil
		}
		if !errors.Is(err, creds.ErrLoginRequired) && now.Before(t.ExpiresAt) {
			c.log.Warn("sso token renewal failed, using the current token", "session", s.Key, "err", err)
			return t, nil
		}
		if !errors.Is(err, creds.ErrLoginRequired) {
			return nil, err
		}
	}
	if t != nil && now.Before(t.ExpiresAt) {
		return t, nil
	}
	return nil, fmt.Errorf("sso session %s: %w", s.Key, creds.ErrLoginRequired)
}

// relookEvery: a session without a usable token reads the keyring again at
// most this often (the AWS CLI's cache file whenever it changes).
const relookEvery = time.Minute

// loadCall is one read of a session's stored token, which every caller
// arriving meanwhile waits for.
type loadCall struct {
	done  chan struct{}
	token *Token
	err   error
}

// current returns the session's token in memory. It is loaded from the
// keyring and the AWS CLI's cache the first time, and again while there is
// no usable token when the CLI's cache file changed (an `aws sso login`
// meanwhile), the keyring answered again after it did not (its Epoch: a
// Secret Service that appeared holds the token) or relookEvery passed. Concurrent callers share one load. An
// OS keyring that is locked or slow is an error (not ErrLoginRequired),
// and the next call loads again.
func (c *Client) current(ctx context.Context, s *Session) (*Token, error) {
	st := c.state(s.Key)
	now := c.opts.Now()
	c.mu.Lock()
	t := st.token
	c.mu.Unlock()
	if usable(t, now) {
		return t, nil // the common case: no file is looked at
	}
	stamp := stampOf(c.cliCachePath(s))
	epoch := c.opts.Keyring.Epoch()
	c.mu.Lock()
	if usable(st.token, now) || (st.loaded && st.cliStamp == stamp && st.epoch == epoch && now.Sub(st.lookedAt) < relookEvery) {
		t := st.token
		c.mu.Unlock()
		return t, nil
	}
	l := st.loading
	if l != nil {
		c.mu.Unlock()
		select {
		case <-l.done:
			return l.token, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l = &loadCall{done: make(chan struct{})}
	st.loading = l
	rejected := st.rejected
	c.mu.Unlock()

	t, err := c.storedToken(s, rejected)
	c.mu.Lock()
	st.loading = nil
	found := false
	if err == nil {
		st.loaded, st.cliStamp, st.lookedAt, st.epoch = true, stamp, now, epoch
		if t != nil && !usable(st.token, now) {
			st.token, found = t, true
		}
	}
	l.token, l.err = st.token, err
	c.mu.Unlock()
	close(l.done)
	if found {
		c.publish(Event{Session: s.Key}) // menus drawn meanwhile showed no token
	}
	return l.token, l.err
}

// usable: t can be used or renewed.
func usable(t *Token, now time.Time) bool {
	return t != nil && (t.RefreshToken != "" || now.Before(t.ExpiresAt))
}

// storedToken reads the token kept in the keyring, else a valid one the
// AWS CLI cached for the same start URL; never the token Identity Center
// refused last (rejected).
func (c *Client) storedToken(s *Session, rejected string) (*Token, error) {
	var t Token
	found, err := c.loadJSON(tokenEntry(s.Key), &t)
	if err != nil {
		return nil, fmt.Errorf("sso session %s: read the stored token: %w", s.Key, err)
	}
	if found && t.StartURL == s.StartURL && t.AccessToken != "" && t.AccessToken != rejected {
		return &t, nil
	}
	cli, err := readCLICache(c.cliCachePath(s), s)
	switch {
	case err == nil && cli.AccessToken != rejected && c.opts.Now().Before(cli.ExpiresAt):
		st := c.state(s.Key)
		c.mu.Lock()
		if held := st.token; held != nil && cli.cliRefresh != "" && held.cliRefresh == cli.cliRefresh {
			cli.SignedInAt = held.SignedInAt // the CLI renewed it: the same sign-in
		}
		c.mu.Unlock()
		c.log.Info("using the AWS CLI's sso token", "session", s.Key, "expires", cli.ExpiresAt.Format(time.RFC3339))
		return cli, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		c.log.Debug("AWS CLI sso cache not used", "session", s.Key, "err", err)
	}
	return nil, nil
}

// renew trades the refresh token for a new access token (one renewal at
// a time per session).
func (c *Client) renew(ctx context.Context, s *Session, old *Token) (*Token, error) {
	st := c.state(s.Key)
	select {
	case st.renewing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-st.renewing }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	cur := st.token
	c.mu.Unlock()
	if cur != nil && cur != old && cur.ExpiresAt.Sub(c.opts.Now()) > renewBefore {
		return cur, nil // renewed meanwhile
	}
	var reg registration
	if found, err := c.loadJSON(old.Client.entry(s.Key), &reg); err != nil {
		return nil, fmt.Errorf("sso session %s: read the client registration: %w", s.Key, err)
	} else if !found || reg.ClientID == "" {
		return nil, fmt.Errorf("sso session %s: no client registration to renew with: %w", s.Key, creds.ErrLoginRequired)
	}
	client, err := c.oidc(ctx, s.Region)
	if err != nil {
		return nil, err
	}
	refresh := func() (*ssooidc.CreateTokenOutput, error) {
		return client.CreateToken(ctx, &ssooidc.CreateTokenInput{
			ClientId: aws.String(reg.ClientID), ClientSecret: aws.String(reg.ClientSecret),
			GrantType: aws.String("refresh_token"), RefreshToken: aws.String(old.RefreshToken),
		})
	}
	out, err := refresh()
	if isInvalidClient(err) {
		// Identity Center forgot the registration: register again, once,
		// so that the refresh (or else the login that follows) works.
		if reg, err = c.reregister(ctx, client, s, old.Client); err != nil {
			return nil, err
		}
		out, err = refresh()
	}
	if err != nil {
		var grant *types.InvalidGrantException
		var expired *types.ExpiredTokenException
		if errors.As(err, &grant) || isInvalidClient(err) || errors.As(err, &expired) {
			c.forgetToken(s, old)
			return nil, fmt.Errorf("sso session %s: renewal refused: %w", s.Key, creds.ErrLoginRequired)
		}
		return nil, fmt.Errorf("renew sso token: %w", err)
	}
	t := c.newToken(s, out, old, old.Client)
	c.log.Info("sso session renewed", "session", s.Key, "expires", t.ExpiresAt.Format(time.RFC3339))
	c.publish(Event{Session: s.Key, Login: true})
	return t, nil
}

// newToken records a token from CreateToken: a sign-in, or the renewal
// of old, which keeps old's refresh token (unless a new one came) and its
// sign-in time.
func (c *Client) newToken(s *Session, out *ssooidc.CreateTokenOutput, old *Token, k clientKind) *Token {
	now := c.opts.Now().UTC().Truncate(time.Second)
	t := &Token{
		AccessToken:  aws.ToString(out.AccessToken),
		ExpiresAt:    now.Add(time.Duration(out.ExpiresIn) * time.Second),
		RefreshToken: aws.ToString(out.RefreshToken),
		StartURL:     s.StartURL,
		Region:       s.Region,
		Client:       k,
		SignedInAt:   now,
	}
	st := c.state(s.Key)
	if old == nil {
		// A login while the session held lasts joins it: Identity Center
		// keeps the browser's sign-in (Force ends it first).
		c.mu.Lock()
		old = st.token
		if old != nil && !now.Before(c.sessionEnds(old)) {
			old = nil
		}
		c.mu.Unlock()
		if old != nil {
			t.SignedInAt = old.SignedInAt
		}
	} else {
		t.SignedInAt = old.SignedInAt
		if t.RefreshToken == "" {
			t.RefreshToken = old.RefreshToken
		}
	}
	c.mu.Lock()
	st.token, st.loaded = t, true
	st.discoverErr = nil // a new token: discovery may work again
	c.mu.Unlock()
	st.saveMu.Lock()
	c.saveJSON(tokenEntry(s.Key), t)
	st.saveMu.Unlock()
	if c.opts.WriteCLICache {
		path := c.cliCachePath(s)
		if err := writeCLICache(path, t); err != nil {
			c.log.Warn("AWS CLI sso cache not written", "err", err)
		}
		c.mu.Lock()
		st.cliStamp = stampOf(path) // our own write is not a new login
		c.mu.Unlock()
	}
	return t
}

// forgetToken drops a token that upstream no longer accepts: from memory
// and from the keyring, but only where it is still the token held (a
// login meanwhile may have replaced it). A nil t forgets whatever is held
// (logout).
func (c *Client) forgetToken(s *Session, t *Token) {
	st := c.state(s.Key)
	c.mu.Lock()
	if t == nil || (st.token != nil && st.token.AccessToken == t.AccessToken) {
		st.token = nil
	}
	if t != nil {
		st.rejected = t.AccessToken
	}
	st.found = nil
	c.mu.Unlock()
	st.saveMu.Lock()
	defer st.saveMu.Unlock()
	if t != nil {
		var kept Token
		found, err := c.loadJSON(tokenEntry(s.Key), &kept)
		if err != nil {
			c.log.Warn("keyring read failed; the refused token is left there and ignored", "session", s.Key, "err", err)
			return
		}
		if !found || kept.AccessToken != t.AccessToken {
			return // replaced meanwhile: keep the newer token
		}
	}
	if err := c.opts.Keyring.Delete(tokenEntry(s.Key)); err != nil {
		c.log.Warn("keyring delete failed", "session", s.Key, "err", err)
	}
}

// Session kinds of SessionStatus.
const (
	KindSSO   = ""      // IAM Identity Center
	KindLogin = "login" // `aws login`
)

// SessionStatus is what is known of a session's login, for menus.
type SessionStatus struct {
	Key string
	// Kind is KindSSO or KindLogin. A login session's Key is its
	// principal's ARN; Label names it for people and Profile is the
	// profile `rolecall login --profile` signs in with.
	Kind      string
	Label     string
	Profile   string
	StartURL  string
	SignedIn  bool
	ExpiresAt time.Time // of the access token; renewable when Renewable
	Renewable bool
	// SignedInAt is when the user signed in to it (zero: unknown).
	SignedInAt time.Time
	// Ends is when Identity Center ends the session, as far as it says:
	// it tells only the access token's expiry and whether a refresh token
	// renews it, so a renewable session ends Options.SessionLength after
	// sign-in (never before its current token's expiry); one that cannot
	// be renewed ends with its token. Zero when the sign-in time of a
	// renewable session is unknown. A session ended earlier (signed out in
	// the portal, revoked) changes no later prediction. A login session
	// ends 12 hours after its sign-in (its idToken's iat).
	Ends      time.Time
	LoggingIn bool
	// UserCode is the code of the login waiting for approval, and
	// VerificationURL its approval page.
	UserCode        string
	VerificationURL string
}

// sessionEnds is when the session of token t ends: see SessionStatus.Ends.
func (c *Client) sessionEnds(t *Token) time.Time {
	if t.RefreshToken == "" {
		return t.ExpiresAt
	}
	if t.SignedInAt.IsZero() {
		return time.Time{}
	}
	end := t.SignedInAt.Add(c.opts.SessionLength)
	if end.Before(t.ExpiresAt) {
		// Identity Center renewed it past the configured length: the
		// session is longer than configured, and lasts at least this.
		end = t.ExpiresAt
	}
	return end
}

// Status reports every session of the AWS config, from memory: it never
// waits on a keyring that does not answer (menus and pages call it).
func (c *Client) Status(ctx context.Context) ([]SessionStatus, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	var out []SessionStatus
	for _, s := range cfg.Sessions {
		st := c.state(s.Key)
		c.mu.Lock()
		loading := st.loading != nil
		c.mu.Unlock()
		// A load in progress is not waited for: what a person looks at
		// is drawn from memory, and a load that finds a token publishes
		// an event (menus draw again). Otherwise the keyring is asked
		// (at once answered while it is known not to answer).
		if !loading {
			if _, err := c.current(ctx, s); err != nil {
				c.log.Debug("sso session status without its stored token", "session", s.Key, "err", err)
			}
		}
		c.mu.Lock()
		ss := SessionStatus{Key: s.Key, StartURL: s.StartURL, LoggingIn: st.flow != nil}
		if st.flow != nil {
			ss.UserCode = st.flow.prompt.UserCode
			ss.VerificationURL = st.flow.prompt.VerificationURIComplete
		}
		if t := st.token; t != nil {
			ss.ExpiresAt, ss.Renewable, ss.SignedInAt = t.ExpiresAt, t.RefreshToken != "", t.SignedInAt
			ss.SignedIn = c.opts.Now().Before(t.ExpiresAt) || ss.Renewable
			ss.Ends = c.sessionEnds(t)
		}
		c.mu.Unlock()
		out = append(out, ss)
	}
	for _, ls := range cfg.LoginSessions {
		out = append(out, c.loginStatus(ctx, ls))
	}
	slices.SortFunc(out, func(a, b SessionStatus) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out, nil
}
