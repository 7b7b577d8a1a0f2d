package sso

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	signintypes "github.com/aws/aws-sdk-go-v2/service/signin/types"

	"github.com/rolecall/rolecall/creds"
)

// SigninOptions tune one `aws login` sign-in.
type SigninOptions struct {
	// CrossDevice signs in on another device: the sign-in page shows a
	// code that the user brings back (SigninCode). It is the flow for
	// --no-browser, SSH sessions and machines without a display, where
	// the browser's redirect cannot reach this machine's loopback.
	CrossDevice bool
	// Region is the region of a new profile (one without login_session);
	// an existing profile's own region is used otherwise.
	Region string
	// Open hands the sign-in URL to a browser on this machine (through a
	// one-time link: the URL never stands on a command line). Same-device
	// sign-ins need it.
	Open func(url string)
	// OnPrompt receives the sign-in URL once it is known: for a
	// cross-device sign-in, the URL to open on the other device.
	OnPrompt func(Prompt)
	// Automatic marks a sign-in rolecall started by itself (a slot
	// needing it): it does not start again right after the user
	// cancelled one.
	Automatic bool
}

// LoginResult is a finished sign-in.
type LoginResult struct {
	Profile string
	// Session is the login_session (the principal's ARN).
	Session   string
	ExpiresAt time.Time // of the first credentials
	Ends      time.Time // of the session, 12 hours after sign-in
}

// signinFlow is one sign-in that callers join, by profile: a flow (its
// token unused) with the cross-device code channel and the result.
type signinFlow struct {
	flow
	codes chan string // cross-device: what the user pasted
	cross bool
	res   *LoginResult
}

// SignIn signs in to the `aws login` session of profile in the browser, as
// `aws login` does: authorization code with PKCE, proved with a fresh DPoP
// key; same-device with a loopback redirect, or cross-device. It writes
// the AWS CLI's cache file and, for a new sign-in, the profile (its other
// lines and the file's other sections unchanged). A sign-in running for
// the profile is joined.
func (c *Client) SignIn(ctx context.Context, profile string, opts SigninOptions) (*LoginResult, error) {
	region, err := c.signinRegion(ctx, profile, opts.Region)
	if err != nil {
		return nil, err
	}
	// The browser's redirect must reach this machine's loopback: without
	// a browser to open, in an SSH session or without a display, the
	// sign-in is cross-device.
	if opts.Open == nil || !c.opts.Graphical() {
		opts.CrossDevice = true
	}
	c.mu.Lock()
	if c.signinFlows == nil {
		c.signinFlows = map[string]*signinFlow{}
	}
	f := c.signinFlows[profile]
	if f == nil && opts.Automatic && c.opts.Now().Sub(c.signinCancelled[profile]) < recentCancel {
		c.mu.Unlock()
		return nil, fmt.Errorf("sign-in of profile %s: %w moments ago; not starting another by itself", profile, ErrLoginCancelled)
	}
	if f == nil {
		fctx, cancel := context.WithCancel(context.Background())
		f = &signinFlow{flow: flow{started: make(chan struct{}), done: make(chan struct{}), cancel: cancel}, codes: make(chan string, 1), cross: opts.CrossDevice}
		c.signinFlows[profile] = f
		go c.runSignin(fctx, profile, region, f, opts)
	}
	f.waiters++
	c.mu.Unlock()
	if err := c.join(ctx, &f.flow, opts.OnPrompt); err != nil {
		return nil, err
	}
	return f.res, f.err
}

// SigninCode hands the code the user pasted to the cross-device sign-in
// of profile.
func (c *Client) SigninCode(profile, code string) error {
	c.mu.Lock()
	f := c.signinFlows[profile]
	c.mu.Unlock()
	if f == nil || !f.cross {
		return fmt.Errorf("no cross-device sign-in of profile %s is waiting for a code: run `rolecall login --profile %s --no-browser`", profile, profile)
	}
	select {
	case f.codes <- strings.TrimSpace(code):
		return nil
	default:
		return errors.New("a code was given already; wait for its answer")
	}
}

// CancelSignin stops the sign-in running for profile, if any.
func (c *Client) CancelSignin(profile string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.signinFlows[profile]; f != nil {
		f.cancel()
	}
}

// signinRegion is the region to sign in to for profile: its own for a
// login_session profile, else the one given for a new profile. A profile
// that holds other credentials is not turned into a login profile (as
// `aws login` refuses it).
func (c *Client) signinRegion(ctx context.Context, profile, region string) (string, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return "", err
	}
	if p, ok := cfg.Profiles[profile]; ok {
		if p.LoginSession == "" {
			return "", creds.Errorf(creds.LoginNotSession, nil, profile, cfg.Path)
		}
		return p.Region, nil
	}
	if why, ok := cfg.Skipped[profile]; ok && why != skipNoSSO && why != skipLoginNoRegion {
		return "", creds.Errorf(creds.LoginNotSession, nil, profile, cfg.Path)
	}
	if region == "" {
		return "", fmt.Errorf("profile %s is new: say which region to sign in to with --region (as `aws login` asks)", profile)
	}
	return region, nil
}

func (c *Client) runSignin(ctx context.Context, profile, region string, f *signinFlow, opts SigninOptions) {
	res, err := c.signin1(ctx, profile, region, f, opts)
	c.mu.Lock()
	delete(c.signinFlows, profile)
	if errors.Is(err, context.Canceled) {
		if c.signinCancelled == nil {
			c.signinCancelled = map[string]time.Time{}
		}
		c.signinCancelled[profile] = c.opts.Now()
		err = fmt.Errorf("sign-in of profile %s: %w", profile, ErrLoginCancelled)
	}
	f.res, f.err = res, err
	c.mu.Unlock()
	f.end()
	if err != nil {
		c.log.Warn("sign-in failed", "profile", profile, "err", err)
		c.publish(Event{Session: profile})
		return
	}
	c.log.Info("signed in", "profile", profile, "session", res.Session, "expires", res.ExpiresAt.Format(time.RFC3339))
	c.publish(Event{Session: res.Session, Login: true})
}

// signinWait bounds a sign-in (the AWS CLI gives up after 10 minutes).
func (c *Client) signinWait() time.Duration { return c.opts.PKCEWait }

// signin1 runs one sign-in.
func (c *Client) signin1(ctx context.Context, profile, region string, f *signinFlow, opts SigninOptions) (*LoginResult, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sign in: make a DPoP key: %w", err)
	}
	base, err := c.signinBase(ctx, region)
	if err != nil {
		return nil, err
	}
	verifier, state := pkceVerifier(), uuid4()
	client := sameDeviceClient
	var cb *callback
	redirect := base.String() + "/v1/sessions/confirmation"
	if opts.CrossDevice {
		client = crossDeviceClient
	} else {
		// Bound (on loopback only) before the browser opens.
		cb, err = listenCallback(state, c.opts.AcceptCallback, c.log, func(code, desc string) error {
			return creds.Errorf(creds.LoginRefusedBrowser, nil, strings.TrimSpace(code+" "+desc), profile)
		})
		if err != nil {
			return nil, err
		}
		defer cb.close()
		redirect = cb.redirectURI
	}
	authURL := signinAuthorizeURL(base.String(), client, state, redirect, verifier)
	c.mu.Lock()
	f.prompt = Prompt{Session: profile, VerificationURI: authURL, VerificationURIComplete: authURL, ExpiresAt: c.opts.Now().Add(c.signinWait()), CrossDevice: opts.CrossDevice}
	c.mu.Unlock()
	close(f.started)
	c.publish(Event{Session: profile})

	var code string
	if opts.CrossDevice {
		if code, err = c.pastedCode(ctx, f, state, profile); err != nil {
			return nil, err
		}
	} else {
		opts.Open(authURL)
		if code, err = cb.wait(ctx, c.signinWait()); err != nil {
			return nil, err
		}
	}
	lc := &loginCache{ClientID: client, DPoPKey: ""}
	if lc.DPoPKey, err = encodeDPoPKey(key); err != nil {
		return nil, err
	}
	ls := &LoginSession{Region: region, Profiles: []string{profile}}
	out, err := c.createToken(ctx, ls, lc, &signintypes.CreateOAuth2TokenRequestBody{
		ClientId: aws.String(client), GrantType: aws.String("authorization_code"), Code: aws.String(code),
		CodeVerifier: aws.String(verifier), RedirectUri: aws.String(redirect),
	})
	if err != nil {
		var denied *signintypes.AccessDeniedException
		if errors.As(err, &denied) && denied.Error_ == signintypes.OAuth2ErrorCodeAuthcodeExpired {
			return nil, creds.Errorf(creds.LoginCodeExpired, err, profile)
		}
		if transient(err) {
			return nil, creds.Errorf(creds.SigninUnreachable, err, base.Host)
		}
		return nil, fmt.Errorf("sign in: exchange the authorization code: %w", err)
	}
	return c.signedIn(ctx, profile, region, lc, out.TokenOutput)
}

// pastedCode waits for the code of a cross-device sign-in: the sign-in
// page shows base64 of "code=...&state=...".
func (c *Client) pastedCode(ctx context.Context, f *signinFlow, state, profile string) (string, error) {
	t := time.NewTimer(c.signinWait())
	defer t.Stop()
	select {
	case pasted := <-f.codes:
		b, err := base64.StdEncoding.DecodeString(pasted)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(pasted, "="))
		}
		if err != nil {
			return "", creds.Errorf(creds.LoginCodeInvalid, nil, profile)
		}
		q, err := url.ParseQuery(string(b))
		if err != nil || q.Get("code") == "" || q.Get("state") != state {
			return "", creds.Errorf(creds.LoginCodeInvalid, nil, profile)
		}
		return q.Get("code"), nil
	case <-t.C:
		return "", fmt.Errorf("no code within %s: run `rolecall login --profile %s --no-browser` again", c.signinWait(), profile)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// signedIn records a sign-in's answer: the cache file (as the AWS CLI
// writes it), the profile when new or signed in as someone else, and the
// session's state.
func (c *Client) signedIn(ctx context.Context, profile, region string, lc *loginCache, out *signintypes.CreateOAuth2TokenResponseBody) (*LoginResult, error) {
	if out == nil || out.AccessToken == nil || aws.ToString(out.RefreshToken) == "" || aws.ToString(out.IdToken) == "" {
		return nil, errors.New("sign in: the sign-in service answered without credentials, refresh token or idToken")
	}
	claims, err := parseIDToken(aws.ToString(out.IdToken))
	if err != nil || !strings.HasPrefix(claims.Sub, "arn:") {
		return nil, fmt.Errorf("sign in: the idToken names no principal: %v", err)
	}
	arn := claims.Sub
	now := c.opts.Now()
	life := signinCredLifetime
	if n := aws.ToInt32(out.ExpiresIn); n > 0 {
		life = time.Duration(n) * time.Second
	}
	lc.IDToken = aws.ToString(out.IdToken)
	lc.AccountID = arnAccount(arn)
	lc.rotated(aws.ToString(out.AccessToken.AccessKeyId), aws.ToString(out.AccessToken.SecretAccessKey), aws.ToString(out.AccessToken.SessionToken), now.Add(life), aws.ToString(out.RefreshToken))
	if tt := aws.ToString(out.TokenType); tt != "" {
		lc.set(nil, "tokenType", tt)
	}
	path := c.loginCachePath(arn)
	if err := writeLoginCache(path, lc); err != nil {
		return nil, err
	}
	if err := setLoginProfile(c.opts.ConfigPath, profile, arn, region); err != nil {
		return nil, err
	}
	st := c.loginState(arn)
	if err := st.take(ctx); err == nil {
		cr := lc.credentials(arn, now)
		cr.Issued = now
		c.mu.Lock()
		st.cache, st.stamp, st.cred, st.refused = lc, stampOf(path), cr, ""
		st.signedIn = lc.signedInAt()
		c.mu.Unlock()
		st.give()
	}
	res := &LoginResult{Profile: profile, Session: arn, ExpiresAt: lc.ExpiresAt}
	if at := lc.signedInAt(); !at.IsZero() {
		res.Ends = at.Add(loginSessionLength)
	}
	return res, nil
}

// pkceVerifier is a PKCE code verifier of 64 characters from RFC 7636's
// unreserved set, as the AWS CLI makes.
func pkceVerifier() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	out := make([]byte, 0, 64)
	var b [64]byte
	for len(out) < cap(out) {
		rand.Read(b[:])
		for _, x := range b {
			// Bytes past the last whole multiple of len(chars) are
			// dropped, so that every character is as likely.
			if int(x) < 256/len(chars)*len(chars) && len(out) < cap(out) {
				out = append(out, chars[int(x)%len(chars)])
			}
		}
	}
	return string(out)
}

// signinAuthorizeURL is the sign-in page's authorize URL: the parameters in the
// AWS CLI's order, percent-encoded as RFC 3986 wants, the PKCE challenge
// of verifier last.
func signinAuthorizeURL(base, client, state, redirect, verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	q := []string{
		"response_type=code", "client_id=" + url.QueryEscape(client), "state=" + url.QueryEscape(state),
		"code_challenge_method=SHA-256", "scope=openid", "redirect_uri=" + url.QueryEscape(redirect),
		"code_challenge=" + base64.RawURLEncoding.EncodeToString(sum[:]),
	}
	return base + "/v1/authorize?" + strings.Join(q, "&")
}
