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

func (c *Client) deviceLogin(ctx context.Context, s *Session, f *flow, openBrowser bool) (*Token, error) {
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

	// Polling ends when the code expires, and every poll has its own
	// timeout: a poll stuck on a half-open connection cannot hold the flow
	// (which every later login joins).
	ctx, cancelPoll := context.WithTimeout(ctx, time.Duration(dev.ExpiresIn)*time.Second)
	defer cancelPoll()
	expiredErr := creds.Errorf(creds.CodeExpired, nil, f.prompt.UserCode, s.Key)
	interval := time.Duration(max(dev.Interval, 1)) * time.Second
	for {
		if err := c.opts.Sleep(ctx, interval); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, expiredErr
			}
			return nil, err
		}
		pctx, pcancel := context.WithTimeout(ctx, c.opts.CallTimeout)
		out, err := client.CreateToken(pctx, &ssooidc.CreateTokenInput{
			ClientId: aws.String(reg.ClientID), ClientSecret: aws.String(reg.ClientSecret),
			GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: dev.DeviceCode,
		})
		pcancel()
		var (
			pending *types.AuthorizationPendingException
			slow    *types.SlowDownException
			expired *types.ExpiredTokenException
			denied  *types.AccessDeniedException
			invalid *types.InvalidClientException
		)
		switch {
		case err == nil:
			return c.newToken(s, out, "", deviceClient), nil
		case errors.As(err, &pending):
		case errors.As(err, &slow):
			interval += 5 * time.Second
		case errors.As(err, &expired):
			return nil, creds.Errorf(creds.CodeExpired, nil, f.prompt.UserCode, s.Key)
		case errors.As(err, &denied):
			return nil, creds.Errorf(creds.LoginDenied, nil, s.Key)
		case errors.As(err, &invalid):
			c.opts.Keyring.Delete(registrationEntry(s.Key))
			return nil, creds.Errorf(creds.RegistrationGone, nil, s.Key)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, expiredErr
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case transient(err):
			c.log.Warn("device-code poll failed; polling on", "session", s.Key, "err", err)
		default:
			return nil, fmt.Errorf("create token: %w", err)
		}
		if !c.opts.Now().Before(expires) {
			return nil, expiredErr
		}
	}
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
