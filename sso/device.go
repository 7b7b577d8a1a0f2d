package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
)

// Prompt is what the user needs to approve a login: the URL to open and the
// code to check there.
type Prompt struct {
	Session                 string
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	ExpiresAt               time.Time
}

// LoginOptions tune one login.
type LoginOptions struct {
	// NoBrowser: do not open the verification URL, only report it.
	NoBrowser bool
	// Automatic marks a login that rolecall started by itself (a slot
	// needing it); it does not start again right after the user cancelled
	// one.
	Automatic bool
	// OnPrompt receives the URL and code once they are known.
	OnPrompt func(Prompt)
}

// ErrLoginCancelled: the login was cancelled (by the user, or every caller
// went away).
var ErrLoginCancelled = errors.New("login cancelled")

// recentCancel is how long an automatic login stays suppressed after the
// user cancelled one.
const recentCancel = time.Minute

// flow is one device-authorization login that callers join.
type flow struct {
	started chan struct{} // closed when prompt is set (or the flow failed)
	done    chan struct{}
	prompt  Prompt
	token   *Token
	err     error
	cancel  context.CancelFunc
	waiters int
}

// Login signs in to session s with the device-authorization flow. A login
// already running for s is joined, never started twice (one browser tab).
func (c *Client) Login(ctx context.Context, s *Session, opts LoginOptions) (*Token, error) {
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
		go c.runFlow(fctx, s, f, !opts.NoBrowser)
	}
	f.waiters++
	c.mu.Unlock()

	defer func() {
		c.mu.Lock()
		f.waiters--
		last := f.waiters == 0
		c.mu.Unlock()
		if last {
			select {
			case <-f.done:
			default:
				// Everyone waiting went away: stop polling.
				f.cancel()
			}
		}
	}()
	select {
	case <-f.started:
		if f.prompt.UserCode != "" && opts.OnPrompt != nil {
			opts.OnPrompt(f.prompt)
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrLoginCancelled, ctx.Err())
	}
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrLoginCancelled, ctx.Err())
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

func (c *Client) runFlow(ctx context.Context, s *Session, f *flow, openBrowser bool) {
	tok, err := c.deviceLogin(ctx, s, f, openBrowser)
	st := c.state(s.Key)
	c.mu.Lock()
	st.flow = nil
	if errors.Is(err, context.Canceled) {
		st.cancelledAt = c.opts.Now()
		err = fmt.Errorf("sso session %s: %w", s.Key, ErrLoginCancelled)
	}
	f.token, f.err = tok, err
	c.mu.Unlock()
	select {
	case <-f.started:
	default:
		close(f.started)
	}
	close(f.done)
	f.cancel()
	if err == nil {
		c.log.Info("signed in", "session", s.Key, "expires", tok.ExpiresAt.Format(time.RFC3339))
	} else {
		c.log.Warn("login failed", "session", s.Key, "err", err)
	}
	c.publish(Event{Session: s.Key, Login: err == nil})
}

func (c *Client) deviceLogin(ctx context.Context, s *Session, f *flow, openBrowser bool) (*Token, error) {
	client, err := c.oidc(ctx, s.Region)
	if err != nil {
		return nil, err
	}
	reg, err := c.registration(ctx, client, s)
	if err != nil {
		return nil, err
	}
	dev, err := client.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: aws.String(reg.ClientID), ClientSecret: aws.String(reg.ClientSecret), StartUrl: aws.String(s.StartURL),
	})
	if err != nil {
		var inv *types.InvalidClientException
		if errors.As(err, &inv) {
			c.opts.Keyring.Delete(registrationEntry(s.Key))
		}
		return nil, fmt.Errorf("start device authorization: %w", err)
	}
	expires := c.opts.Now().Add(time.Duration(dev.ExpiresIn) * time.Second)
	c.mu.Lock()
	f.prompt = Prompt{
		Session: s.Key, UserCode: aws.ToString(dev.UserCode),
		VerificationURI: aws.ToString(dev.VerificationUri), VerificationURIComplete: aws.ToString(dev.VerificationUriComplete),
		ExpiresAt: expires,
	}
	c.mu.Unlock()
	close(f.started)
	c.publish(Event{Session: s.Key})
	if openBrowser {
		url := f.prompt.VerificationURIComplete
		if url == "" {
			url = f.prompt.VerificationURI
		}
		if err := c.opts.OpenBrowser(url); err != nil {
			c.log.Warn("could not open a browser; open the URL yourself", "url", url, "err", err)
		}
	}

	interval := time.Duration(max(dev.Interval, 1)) * time.Second
	for {
		if err := c.opts.Sleep(ctx, interval); err != nil {
			return nil, err
		}
		out, err := client.CreateToken(ctx, &ssooidc.CreateTokenInput{
			ClientId: aws.String(reg.ClientID), ClientSecret: aws.String(reg.ClientSecret),
			GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: dev.DeviceCode,
		})
		var (
			pending *types.AuthorizationPendingException
			slow    *types.SlowDownException
			expired *types.ExpiredTokenException
			denied  *types.AccessDeniedException
			invalid *types.InvalidClientException
		)
		switch {
		case err == nil:
			return c.newToken(s, out, ""), nil
		case errors.As(err, &pending):
		case errors.As(err, &slow):
			interval += 5 * time.Second
		case errors.As(err, &expired):
			return nil, fmt.Errorf("the code %s expired before it was approved: run `rolecall login` again", f.prompt.UserCode)
		case errors.As(err, &denied):
			return nil, errors.New("the login was denied in the browser")
		case errors.As(err, &invalid):
			c.opts.Keyring.Delete(registrationEntry(s.Key))
			return nil, errors.New("IAM Identity Center no longer knows rolecall's client registration: run `rolecall login` again")
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			return nil, fmt.Errorf("create token: %w", err)
		}
		if !c.opts.Now().Before(expires) {
			return nil, fmt.Errorf("the code %s expired before it was approved: run `rolecall login` again", f.prompt.UserCode)
		}
	}
}

// registration returns the client registration for s, registering anew
// when there is none or it expires within the hour.
func (c *Client) registration(ctx context.Context, client *ssooidc.Client, s *Session) (registration, error) {
	var reg registration
	if c.loadJSON(registrationEntry(s.Key), &reg) && reg.ClientID != "" &&
		reg.ExpiresAt.Sub(c.opts.Now()) > time.Hour && slices.Equal(reg.Scopes, s.scopes()) &&
		reg.Region == s.Region && reg.StartURL == s.StartURL {
		return reg, nil
	}
	out, err := client.RegisterClient(ctx, &ssooidc.RegisterClientInput{
		ClientName: aws.String("rolecall"),
		ClientType: aws.String("public"),
		Scopes:     s.scopes(),
		GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		IssuerUrl:  aws.String(s.StartURL),
	})
	if err != nil {
		return registration{}, fmt.Errorf("register client: %w", err)
	}
	reg = registration{
		ClientID: aws.ToString(out.ClientId), ClientSecret: aws.ToString(out.ClientSecret),
		ExpiresAt: time.Unix(out.ClientSecretExpiresAt, 0).UTC(), Scopes: s.scopes(),
		Region: s.Region, StartURL: s.StartURL,
	}
	c.saveJSON(registrationEntry(s.Key), reg)
	return reg, nil
}
