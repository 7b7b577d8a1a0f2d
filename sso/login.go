package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
)

// Prompt is what the user needs to approve a login: the URL to open and,
// for the device flow, the code to check there (empty for PKCE).
type Prompt struct {
	Session                 string
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	ExpiresAt               time.Time
	// CrossDevice: an `aws login` sign-in on another device, whose page
	// shows a code to bring back (Client.SigninCode).
	CrossDevice bool
}

// LoginOptions tune one login.
type LoginOptions struct {
	// NoBrowser: do not open the verification URL, only report it.
	NoBrowser bool
	// Automatic marks a login that rolecall started by itself (a slot
	// needing it); it does not start again right after the user cancelled
	// one.
	Automatic bool
	// PKCE asks for the authorization-code flow with PKCE instead of the
	// device flow; Options.LoginFlow "pkce" makes it the default. Either
	// way the device flow is used with NoBrowser, in an SSH session or
	// without a display (see Options.Graphical).
	PKCE bool
	// OnPrompt receives the URL and code once they are known.
	OnPrompt func(Prompt)
	// Force starts a new Identity Center session: signing in again joins
	// the session the browser still has (its end does not move), so the
	// current one is ended first with the portal's Logout.
	Force bool
}

// LoginFlowPKCE is the Options.LoginFlow (and settings login_flow) value
// that makes PKCE the default flow.
const LoginFlowPKCE = "pkce"

// loginFunc runs one kind of login flow for f.
type loginFunc func(ctx context.Context, s *Session, f *flow, openBrowser bool) (*Token, error)

// loginFor picks the flow of a login: PKCE only when asked for and a
// browser can be opened on this machine, since its redirect goes to a
// listener here; the device flow otherwise.
func (c *Client) loginFor(opts LoginOptions) (loginFunc, bool) {
	pkce := opts.PKCE || c.opts.LoginFlow == LoginFlowPKCE
	if pkce && !opts.NoBrowser && c.opts.Graphical() {
		return c.pkceLogin, true
	}
	return c.deviceLogin, !opts.NoBrowser
}

// ErrLoginCancelled: the login was cancelled (by the user, or every caller
// went away).
var ErrLoginCancelled = errors.New("login cancelled")

// recentCancel is how long an automatic login stays suppressed after the
// user cancelled one.
const recentCancel = time.Minute

// flow is one login (device or PKCE) that callers join.
type flow struct {
	started chan struct{} // closed when prompt is set (or the flow failed)
	done    chan struct{}
	prompt  Prompt
	token   *Token
	err     error
	cancel  context.CancelFunc
	waiters int
}

// end tells the flow's waiters it is over (started too, if it failed
// before a prompt) and cancels what it still runs. Its result is set
// first, under the client's lock.
func (f *flow) end() {
	select {
	case <-f.started:
	default:
		close(f.started)
	}
	close(f.done)
	f.cancel()
}

// Login signs in to session s with the device-authorization flow, or with
// PKCE (see LoginOptions.PKCE). A login already running for s is joined,
// whatever its kind, never started twice (one browser tab).
func (c *Client) Login(ctx context.Context, s *Session, opts LoginOptions) (*Token, error) {
	if opts.Force {
		c.log.Info("ending the sso session for a new one", "session", s.Key)
		c.endSession(ctx, s)
	}
	st := c.state(s.Key)
	c.mu.Lock()
	f := st.flow
	if f == nil {
		if opts.Automatic && c.opts.Now().Sub(st.cancelledAt) < recentCancel {
			c.mu.Unlock()
			return nil, fmt.Errorf("sso session %s: %w moments ago; not starting another by itself", s.Key, ErrLoginCancelled)
		}
		fctx, cancel := context.WithCancel(context.Background())
		f = &flow{started: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
		st.flow = f
		login, openBrowser := c.loginFor(opts)
		go c.runFlow(fctx, s, f, login, openBrowser)
	}
	f.waiters++
	c.mu.Unlock()
	if err := c.join(ctx, f, opts.OnPrompt); err != nil {
		return nil, err
	}
	return f.token, f.err
}

// join waits, as one of the waiters of f (counted by the caller), for its
// prompt, handed to onPrompt, and for its end. When the last waiter goes
// away (its ctx ended) the flow stops: nobody would use its answer.
func (c *Client) join(ctx context.Context, f *flow, onPrompt func(Prompt)) error {
	defer func() {
		c.mu.Lock()
		f.waiters--
		last := f.waiters == 0
		c.mu.Unlock()
		if last {
			select {
			case <-f.done:
			default:
				f.cancel()
			}
		}
	}()
	select {
	case <-f.started:
		if f.prompt.VerificationURI != "" && onPrompt != nil {
			onPrompt(f.prompt)
		}
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrLoginCancelled, ctx.Err())
	}
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrLoginCancelled, ctx.Err())
	}
}

// CancelLogin stops the login running for session key, if any.
func (c *Client) CancelLogin(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.sessions[key]; ok && st.flow != nil {
		st.flow.cancel()
	}
}

func (c *Client) runFlow(ctx context.Context, s *Session, f *flow, login loginFunc, openBrowser bool) {
	tok, err := login(ctx, s, f, openBrowser)
	st := c.state(s.Key)
	c.mu.Lock()
	st.flow = nil
	if errors.Is(err, context.Canceled) {
		st.cancelledAt = c.opts.Now()
		err = fmt.Errorf("sso session %s: %w", s.Key, ErrLoginCancelled)
	}
	f.token, f.err = tok, err
	c.mu.Unlock()
	f.end()
	if err == nil {
		c.log.Info("signed in", "session", s.Key, "expires", tok.ExpiresAt.Format(time.RFC3339))
	} else {
		c.log.Warn("login failed", "session", s.Key, "err", err)
	}
	c.publish(Event{Session: s.Key, Login: err == nil})
}

// openBrowser asks for url in the browser and goes on: the launcher is
// started in a goroutine of its own and never waited for, so a code
// approved at once ends the login at once, whatever the launcher does. The
// goroutine ends when OpenBrowser returns; sso holds nothing it needs.
func (c *Client) openBrowser(s *Session, url string) {
	open := c.opts.OpenBrowser
	go func() {
		if err := open(url); err != nil {
			c.log.Warn("could not open a browser; open the URL shown yourself", "session", s.Key, "err", err)
		}
	}()
}

// clientKind tells the two client registrations of a session apart: the
// device flow's and PKCE's differ in grant types and redirect URI, so
// each is kept in its own keyring entry.
type clientKind string

const (
	deviceClient clientKind = ""
	pkceClient   clientKind = "pkce"
)

// entry is the keyring entry of the registration of kind k.
func (k clientKind) entry(key string) string {
	if k == pkceClient {
		return "sso-client-pkce:" + key
	}
	return registrationEntry(key)
}

// registration returns the client registration of kind k for s,
// registering anew when there is none or it expires within the hour.
func (c *Client) registration(ctx context.Context, client *ssooidc.Client, s *Session, k clientKind) (registration, error) {
	var reg registration
	found, err := c.loadJSON(k.entry(s.Key), &reg)
	if err != nil {
		return registration{}, fmt.Errorf("read the client registration: %w", err)
	}
	if found && reg.ClientID != "" &&
		reg.ExpiresAt.Sub(c.opts.Now()) > time.Hour && slices.Equal(reg.Scopes, s.scopes()) &&
		reg.Region == s.Region && reg.StartURL == s.StartURL {
		return reg, nil
	}
	in := &ssooidc.RegisterClientInput{
		ClientName: aws.String("rolecall"),
		ClientType: aws.String("public"),
		Scopes:     s.scopes(),
		GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		IssuerUrl:  aws.String(s.StartURL),
	}
	if k == pkceClient {
		in.GrantTypes = []string{"authorization_code", "refresh_token"}
		in.RedirectUris = []string{pkceRedirectURI}
	}
	out, err := client.RegisterClient(ctx, in, fewRetries)
	if err != nil {
		return registration{}, fmt.Errorf("register client: %w", err)
	}
	reg = registration{
		ClientID: aws.ToString(out.ClientId), ClientSecret: aws.ToString(out.ClientSecret),
		ExpiresAt: time.Unix(out.ClientSecretExpiresAt, 0).UTC(), Scopes: s.scopes(),
		Region: s.Region, StartURL: s.StartURL,
	}
	c.saveJSON(k.entry(s.Key), reg)
	return reg, nil
}
