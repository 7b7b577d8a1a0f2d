package sso

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc/types"

	"github.com/rolecall/rolecall/creds"
)

// deviceLogin signs in to s with the device authorization flow: start
// returns the prompt (the code and its page), shown and published, then
// poll waits for the approval.
func (c *Client) deviceLogin(ctx context.Context, s *Session, f *flow, openBrowser bool) (*Token, error) {
	d, err := c.startDevice(ctx, s)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	f.prompt = d.prompt
	c.mu.Unlock()
	close(f.started)
	c.publish(Event{Session: s.Key})
	if openBrowser {
		url := d.prompt.VerificationURIComplete
		if url == "" {
			url = d.prompt.VerificationURI
		}
		c.openBrowser(s, url)
	}
	return c.pollDevice(ctx, s, d)
}

// deviceAuth is a device authorization started: what polling needs.
type deviceAuth struct {
	client *ssooidc.Client
	reg    registration
	dev    *ssooidc.StartDeviceAuthorizationOutput
	prompt Prompt
}

// startDevice registers (or reuses the registration) and starts a device
// authorization; its prompt is the code to show and where.
func (c *Client) startDevice(ctx context.Context, s *Session) (*deviceAuth, error) {
	client, err := c.oidc(ctx, s.Region)
	if err != nil {
		return nil, err
	}
	// Until the code is shown nobody knows what happens: give up soon
	// when Identity Center cannot be reached, and say where it was sought.
	startCtx, cancel := context.WithTimeout(ctx, loginStartTimeout)
	defer cancel()
	reg, err := c.registration(startCtx, client, s, deviceClient)
	if err != nil {
		return nil, unreachable(err)
	}
	start := func() (*ssooidc.StartDeviceAuthorizationOutput, error) {
		return client.StartDeviceAuthorization(startCtx, &ssooidc.StartDeviceAuthorizationInput{
			ClientId: aws.String(reg.ClientID), ClientSecret: aws.String(reg.ClientSecret), StartUrl: aws.String(s.StartURL),
		}, fewRetries)
	}
	dev, err := start()
	if isInvalidClient(err) {
		// Identity Center forgot the registration: register again, once.
		if reg, err = c.reregister(startCtx, client, s, deviceClient); err != nil {
			return nil, unreachable(err)
		}
		dev, err = start()
	}
	if err != nil {
		return nil, unreachable(fmt.Errorf("start device authorization: %w", err))
	}
	return &deviceAuth{client: client, reg: reg, dev: dev, prompt: Prompt{
		Session: s.Key, UserCode: aws.ToString(dev.UserCode),
		VerificationURI: aws.ToString(dev.VerificationUri), VerificationURIComplete: aws.ToString(dev.VerificationUriComplete),
		ExpiresAt: c.opts.Now().Add(time.Duration(dev.ExpiresIn) * time.Second),
	}}, nil
}

// pollDevice asks for the token until the user approves, denies, or the
// code expires. Polling ends when the code expires, and every poll has its
// own timeout: a poll stuck on a half-open connection cannot hold the flow
// (which every later login joins).
func (c *Client) pollDevice(ctx context.Context, s *Session, d *deviceAuth) (*Token, error) {
	ctx, cancelPoll := context.WithTimeout(ctx, time.Duration(d.dev.ExpiresIn)*time.Second)
	defer cancelPoll()
	expiredErr := creds.Errorf(creds.CodeExpired, nil, d.prompt.UserCode, s.Key)
	interval := time.Duration(max(d.dev.Interval, 1)) * time.Second
	for {
		if err := c.opts.Sleep(ctx, interval); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, expiredErr
			}
			return nil, err
		}
		pctx, pcancel := context.WithTimeout(ctx, c.opts.CallTimeout)
		out, err := d.client.CreateToken(pctx, &ssooidc.CreateTokenInput{
			ClientId: aws.String(d.reg.ClientID), ClientSecret: aws.String(d.reg.ClientSecret),
			GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: d.dev.DeviceCode,
		})
		pcancel()
		if err == nil {
			return c.newToken(s, out, nil, deviceClient), nil
		}
		slower, err := c.pollAnswer(ctx, s, d, err, expiredErr)
		if err != nil {
			return nil, err
		}
		if slower {
			interval += 5 * time.Second
		}
		if !c.opts.Now().Before(d.prompt.ExpiresAt) {
			return nil, expiredErr
		}
	}
}

// pollAnswer is what one failed poll means: go on (slower: Identity
// Center asked to slow down), or the login's end with its error.
func (c *Client) pollAnswer(ctx context.Context, s *Session, d *deviceAuth, err, expiredErr error) (slower bool, _ error) {
	var (
		pending *types.AuthorizationPendingException
		slow    *types.SlowDownException
		expired *types.ExpiredTokenException
		denied  *types.AccessDeniedException
		invalid *types.InvalidClientException
	)
	switch {
	case errors.As(err, &pending):
	case errors.As(err, &slow):
		return true, nil
	case errors.As(err, &expired):
		return false, creds.Errorf(creds.CodeExpired, nil, d.prompt.UserCode, s.Key)
	case errors.As(err, &denied):
		return false, creds.Errorf(creds.LoginDenied, nil, s.Key)
	case errors.As(err, &invalid):
		c.opts.Keyring.Delete(registrationEntry(s.Key))
		return false, creds.Errorf(creds.RegistrationGone, nil, s.Key)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return false, expiredErr
	case ctx.Err() != nil:
		return false, ctx.Err()
	case transient(err):
		c.log.Warn("device-code poll failed; polling on", "session", s.Key, "err", err)
	default:
		return false, fmt.Errorf("create token: %w", err)
	}
	return false, nil
}

// loginStartTimeout bounds a device login's calls before the code is shown.
const loginStartTimeout = 15 * time.Second

// fewRetries: a login's first calls are retried once, not with the
// backoff that suits a discovery's throttling.
func fewRetries(o *ssooidc.Options) { o.RetryMaxAttempts = 2 }

// unreachable turns a failure to connect to Identity Center (DNS, refused,
// timed out) into the one line that says where it was sought.
func unreachable(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	var op *net.OpError
	var dns *net.DNSError
	if !errors.As(err, &op) && !errors.As(err, &dns) && !ue.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	host := ue.URL
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		host = u.Host
	}
	return creds.Errorf(creds.Unreachable, err, host)
}
