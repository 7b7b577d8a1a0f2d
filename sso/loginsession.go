package sso

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signin"
	signintypes "github.com/aws/aws-sdk-go-v2/service/signin/types"
	"github.com/aws/smithy-go"

	"github.com/rolecall/rolecall/creds"
)

// LoginSession is an `aws login` session: an IAM user, root or federated
// console session signed in to with the browser, whose 15-minute
// credentials are renewed with a DPoP-bound refresh token for up to 12
// hours. Profiles name it with login_session; the AWS CLI keeps it in a
// cache file that rolecall shares.
type LoginSession struct {
	// ARN is the login_session value: the principal's ARN. It is the
	// session's key (creds.Profile.Session of its profiles).
	ARN    string
	Region string
	// Profiles name it, sorted; the first is the one a login uses.
	Profiles []string
}

// Label is the session as people know it: the principal's name and
// account ("alice in 111111111111").
func (s *LoginSession) Label() string {
	name := s.ARN
	if i := strings.LastIndexAny(name, ":/"); i >= 0 {
		name = name[i+1:]
	}
	if a := arnAccount(s.ARN); a != "" {
		return name + " in " + a
	}
	return name
}

// Profile is the profile `rolecall login` signs in with.
func (s *LoginSession) Profile() string { return s.Profiles[0] }

// arnAccount is the account of an ARN (its fifth field).
func arnAccount(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		return parts[4]
	}
	return ""
}

// addLoginSession records that profile names login_session arn.
func (c *AWSConfig) addLoginSession(arn, profile, region string) {
	ls, ok := c.LoginSessions[arn]
	if !ok {
		ls = &LoginSession{ARN: arn, Region: region}
		c.LoginSessions[arn] = ls
	}
	i, _ := slices.BinarySearch(ls.Profiles, profile)
	ls.Profiles = slices.Insert(ls.Profiles, i, profile)
	if ls.Profiles[0] == profile {
		ls.Region = region
	}
}

// loginState is what the client holds for one login session; the cache
// file is the truth, shared with the AWS CLI, and is read again whenever
// it changed.
type loginState struct {
	// turn is held by whoever reads, refreshes or writes the session's
	// cache: one refresh at a time however many slots and chains use it,
	// and callers arriving meanwhile take its result.
	turn chan struct{}

	// guarded by Client.mu
	stamp    fileStamp   // of the cache file as last read or written
	cache    *loginCache // the file as of stamp; nil before a read
	cred     creds.Credentials
	refused  string    // refresh token the service refused: login required until the file changes
	signedIn time.Time // sign-in time when known (idToken iat)
}

func (c *Client) loginState(arn string) *loginState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logins == nil {
		c.logins = map[string]*loginState{}
	}
	st, ok := c.logins[arn]
	if !ok {
		st = &loginState{turn: make(chan struct{}, 1)}
		c.logins[arn] = st
	}
	return st
}

// loginCachePath is the cache file of session arn.
func (c *Client) loginCachePath(arn string) string {
	return filepath.Join(c.opts.LoginCacheDir, loginCacheName(arn))
}

// take waits for the session's turn, or for ctx.
func (st *loginState) take(ctx context.Context) error {
	select {
	case st.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (st *loginState) give() { <-st.turn }

// sourceMargin: credentials a chain's AssumeRole call is made with must be
// valid at least this much longer (the call and its retries).
const sourceMargin = 2 * time.Minute

// loginCredentials are credentials of login session ls. direct is set
// when they are served as they are (the session's own profile): then they
// are renewed unless younger than creds.MinAge, so that the manager's
// schedule (refresh at lifetime - MinAge) always gets newer ones and the
// slots sharing them stay in step. For a chain's source any credentials
// valid for sourceMargin do. One refresh at a time per session; the cache
// file is read again first when it changed (the AWS CLI refreshed or
// signed in), and written back right after the refresh token rotated.
func (c *Client) loginCredentials(ctx context.Context, ls *LoginSession, direct bool) (creds.Credentials, error) {
	st := c.loginState(ls.ARN)
	if err := st.take(ctx); err != nil {
		return creds.Credentials{}, err
	}
	defer st.give()
	path := c.loginCachePath(ls.ARN)
	lc, err := c.readLoginLocked(st, ls, path)
	if err != nil {
		return creds.Credentials{}, err
	}
	now := c.opts.Now()
	c.mu.Lock()
	cur, refused := st.cred, st.refused
	c.mu.Unlock()
	if refused == lc.RefreshToken {
		return creds.Credentials{}, c.loginEnded(ls, creds.LoginSessionEnded)
	}
	good := cur.ValidAt(now.Add(sourceMargin))
	if direct {
		good = cur.ValidAt(now) && now.Before(cur.Issued.Add(creds.MinAge))
	}
	if good {
		return cur, nil
	}
	return c.refreshLogin(ctx, st, ls, path, lc)
}

// readLoginLocked reads the cache file when it changed since the last read
// (or was never read). The session's turn is held.
func (c *Client) readLoginLocked(st *loginState, ls *LoginSession, path string) (*loginCache, error) {
	stamp := stampOf(path)
	c.mu.Lock()
	lc, same := st.cache, st.cache != nil && stamp == st.stamp
	c.mu.Unlock()
	if same {
		return lc, nil
	}
	lc, err := readLoginCache(path, ls.Profile())
	if err != nil {
		c.mu.Lock()
		st.cache, st.cred, st.stamp = nil, creds.Credentials{}, fileStamp{}
		c.mu.Unlock()
		return nil, err
	}
	c.mu.Lock()
	st.cache, st.stamp, st.cred = lc, stamp, lc.credentials(ls.ARN, c.opts.Now())
	if at := lc.signedInAt(); !at.IsZero() {
		st.signedIn = at
	}
	c.mu.Unlock()
	c.log.Debug("read the login cache", "session", ls.ARN, "file", path, "expires", lc.ExpiresAt.UTC().Format(time.RFC3339))
	return lc, nil
}

// refreshLogin trades the refresh token for new credentials with a DPoP
// proof, and writes the rotated token back at once. A refusal of a token
// that the file no longer holds (the AWS CLI refreshed meanwhile) is
// retried once with the file's.
func (c *Client) refreshLogin(ctx context.Context, st *loginState, ls *LoginSession, path string, lc *loginCache) (creds.Credentials, error) {
	for attempt := 0; ; attempt++ {
		out, err := c.createToken(ctx, ls, lc, &signintypes.CreateOAuth2TokenRequestBody{
			ClientId: aws.String(lc.ClientID), GrantType: aws.String("refresh_token"), RefreshToken: aws.String(lc.RefreshToken),
		})
		if err != nil {
			if attempt == 0 && isInvalidGrant(err) {
				if again, rerr := c.readLoginLocked(st, ls, path); rerr == nil && again.RefreshToken != lc.RefreshToken {
					c.log.Info("the login session's refresh token changed in the cache meanwhile (the AWS CLI refreshed): using the new one", "session", ls.ARN)
					lc = again
					continue
				}
			}
			return creds.Credentials{}, c.signinError(st, ls, lc, err)
		}
		now := c.opts.Now()
		at := out.TokenOutput.AccessToken
		if at == nil || aws.ToString(at.AccessKeyId) == "" || aws.ToString(out.TokenOutput.RefreshToken) == "" {
			return creds.Credentials{}, fmt.Errorf("refresh login session %s: the sign-in service answered without credentials or refresh token", ls.ARN)
		}
		life := signinCredLifetime
		if n := aws.ToInt32(out.TokenOutput.ExpiresIn); n > 0 {
			life = time.Duration(n) * time.Second
		}
		next := *lc
		next.rotated(aws.ToString(at.AccessKeyId), aws.ToString(at.SecretAccessKey), aws.ToString(at.SessionToken), now.Add(life), aws.ToString(out.TokenOutput.RefreshToken))
		// The old refresh token is used up: the file must hold the new
		// one before anyone (the AWS CLI) reads it again.
		werr := writeLoginCache(path, &next)
		cr := next.credentials(ls.ARN, now)
		cr.Issued = now
		c.mu.Lock()
		st.cache, st.cred, st.refused = &next, cr, ""
		if werr == nil {
			st.stamp = stampOf(path) // our own write is not a change to read back
		}
		c.mu.Unlock()
		if werr != nil {
			c.log.Error("the login session was refreshed but its cache could not be written: the AWS CLI holds a used-up refresh token until the next refresh writes it", "session", ls.ARN, "err", werr)
		}
		c.log.Info("login session refreshed", "session", ls.ARN, "key", cr.MaskedKeyID(), "expires", cr.Expiration.Format(time.RFC3339))
		return cr, nil
	}
}

// createToken calls CreateOAuth2Token with a DPoP proof made with the
// cache's key.
func (c *Client) createToken(ctx context.Context, ls *LoginSession, lc *loginCache, in *signintypes.CreateOAuth2TokenRequestBody) (*signin.CreateOAuth2TokenOutput, error) {
	key, err := parseDPoPKey(lc.DPoPKey)
	if err != nil {
		return nil, err // checked when read
	}
	client, err := c.signin(ctx, ls.Region)
	if err != nil {
		return nil, err
	}
	return client.CreateOAuth2Token(ctx, &signin.CreateOAuth2TokenInput{TokenInput: in}, withDPoP(key, c.opts.Now))
}

// signin is the sign-in service's client for region: the SDK's endpoint
// resolution, so AWS_ENDPOINT_URL_SIGNIN (and AWS_ENDPOINT_URL) move it.
func (c *Client) signin(ctx context.Context, region string) (*signin.Client, error) {
	cfg, err := c.awsConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	return signin.NewFromConfig(cfg), nil
}

// signinBase is the scheme and host of the sign-in service in region, as
// the SDK resolves it (the browser's /v1/authorize is there too).
func (c *Client) signinBase(ctx context.Context, region string) (*url.URL, error) {
	client, err := c.signin(ctx, region)
	if err != nil {
		return nil, err
	}
	o := client.Options()
	resolver := o.EndpointResolverV2
	if resolver == nil {
		resolver = signin.NewDefaultEndpointResolverV2()
	}
	ep, err := resolver.ResolveEndpoint(ctx, signin.EndpointParameters{Region: aws.String(region), Endpoint: o.BaseEndpoint})
	if err != nil {
		return nil, fmt.Errorf("AWS sign-in address for region %s: %w", region, err)
	}
	u := ep.URI
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &u, nil
}

func isInvalidGrant(err error) bool {
	var v *signintypes.ValidationException
	return errors.As(err, &v)
}

// signinError says what a refused or failed refresh means. A session the
// service ended is remembered with its refresh token: login required,
// without asking the service again, until the cache file changes (a new
// `aws login` or `rolecall login`).
func (c *Client) signinError(st *loginState, ls *LoginSession, lc *loginCache, err error) error {
	var denied *signintypes.AccessDeniedException
	var invalid *signintypes.ValidationException
	ended := func(t creds.Text) error {
		c.mu.Lock()
		st.refused = lc.RefreshToken
		c.mu.Unlock()
		return c.loginEnded(ls, t)
	}
	switch {
	case errors.As(err, &denied):
		switch denied.Error_ {
		case signintypes.OAuth2ErrorCodeUserCredentialsChanged:
			return ended(creds.LoginPasswordChanged)
		case signintypes.OAuth2ErrorCodeInsufficientPermissions:
			return creds.Errorf(creds.LoginNoPermission, creds.ErrPermanent, ls.ARN, ls.Profile())
		default: // TOKEN_EXPIRED, and what a newer service may add
			return ended(creds.LoginSessionEnded)
		}
	case errors.As(err, &invalid):
		// "The provided authorization grant is invalid, expired, revoked,
		// or malformed": the refresh token was used up elsewhere and the
		// file holds no newer one.
		return ended(creds.LoginSessionEnded)
	case transient(err):
		host := "the AWS sign-in service"
		if u, berr := c.signinBase(context.Background(), ls.Region); berr == nil {
			host = u.Host
		}
		return creds.Errorf(creds.SigninUnreachable, fmt.Errorf("refresh login session %s: %w", ls.ARN, err), host)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("refresh login session %s: the sign-in service refused (%s: %s)", ls.ARN, api.ErrorCode(), api.ErrorMessage())
	}
	return fmt.Errorf("refresh login session %s: %w", ls.ARN, err)
}

// loginEnded is the login-required error of session ls with text t.
func (c *Client) loginEnded(ls *LoginSession, t creds.Text) error {
	p := ls.Profile()
	return creds.Errorf(t, creds.ErrLoginRequired, ls.Label(), p, p)
}

// loginStatus is the status of login session ls, for menus.
func (c *Client) loginStatus(ctx context.Context, ls *LoginSession) SessionStatus {
	st := c.loginState(ls.ARN)
	ss := SessionStatus{Key: ls.ARN, Kind: KindLogin, Profile: ls.Profile(), Label: ls.Label()}
	// Read the file when it changed, but never wait for a refresh.
	select {
	case st.turn <- struct{}{}:
		if _, err := c.readLoginLocked(st, ls, c.loginCachePath(ls.ARN)); err != nil {
			c.log.Debug("login session status without its cache", "session", ls.ARN, "err", err)
		}
		st.give()
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.cache != nil && st.refused != st.cache.RefreshToken {
		ss.SignedIn, ss.Renewable = true, true
		ss.ExpiresAt = st.cred.Expiration
		if !st.signedIn.IsZero() {
			ss.Ends = st.signedIn.Add(loginSessionLength)
		}
	}
	if !ss.Ends.IsZero() && !c.opts.Now().Before(ss.Ends) {
		ss.SignedIn = false
	}
	if f := c.signinFlows[ls.Profile()]; f != nil {
		ss.LoggingIn = true
		ss.VerificationURL = f.prompt.VerificationURIComplete
	}
	return ss
}

// CheckLoginSessions looks at the cache file of every login session once
// (its size, modification time and inode; nothing is read unless it
// changed) and reads those that changed: a sign-in by `aws login` (or a
// refresh by the AWS CLI) while rolecall runs. A session that needed a
// login and is usable again is published as a Login event, so its slots
// are fetched at once. The application calls it from its AWS config poll.
func (c *Client) CheckLoginSessions(ctx context.Context) {
	cfg, err := c.config(ctx)
	if err != nil {
		return
	}
	for _, ls := range cfg.LoginSessions {
		st := c.loginState(ls.ARN)
		path := c.loginCachePath(ls.ARN)
		stamp := stampOf(path)
		c.mu.Lock()
		changed := stamp != st.stamp
		usable := st.cache != nil && st.refused != st.cache.RefreshToken
		c.mu.Unlock()
		if !changed || !stamp.exists {
			continue
		}
		select {
		case st.turn <- struct{}{}:
		default:
			continue // being read or refreshed: that reads the change
		}
		lc, err := c.readLoginLocked(st, ls, path)
		st.give()
		if err != nil {
			c.log.Debug("login cache changed but cannot be used", "session", ls.ARN, "err", err)
			continue
		}
		c.mu.Lock()
		now := st.refused != lc.RefreshToken
		c.mu.Unlock()
		c.publish(Event{Session: ls.ARN, Login: now && !usable})
	}
}

// LoginSessionOf is the login session named key (its ARN, as in
// SessionStatus.Key and creds.Profile.Session); false when key is not one
// (an IAM Identity Center session).
func (c *Client) LoginSessionOf(ctx context.Context, key string) (*LoginSession, bool) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, false
	}
	ls, ok := cfg.LoginSessions[key]
	return ls, ok
}
