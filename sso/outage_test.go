package sso

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeclock"
)

// Identity Center forgot the client registration: the next login
// registers again, once, and goes on (no failed login first).
func TestForgottenRegistrationRegistersAgainOnLogin(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	h.fake.ForgetClients()
	go h.approveInBrowser()
	if _, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{Automatic: true}); err != nil {
		t.Fatalf("login after the registration was forgotten: %v", err)
	}
	if n := h.fake.Calls("RegisterClient"); n != 2 {
		t.Errorf("RegisterClient = %d, want 2 (registered again once)", n)
	}
}

// The same at renewal: the refresh token of the forgotten client is
// refused (login required), and the login that follows needs no second
// registration or failed start.
func TestForgottenRegistrationAtRenewal(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.Lock()
	h.fake.AccessTokenTTL = 10 * time.Minute // renewed at next use
	h.fake.Unlock()
	h.login()
	h.fake.ForgetClients()
	expire(h.client, "corp")
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
		t.Fatalf("renewal with a forgotten registration: %v, want login required", err)
	}
	if n := h.fake.Calls("RegisterClient"); n != 2 {
		t.Errorf("RegisterClient = %d, want 2", n)
	}
	starts := h.fake.Calls("StartDeviceAuthorization")
	h.login()
	if n := h.fake.Calls("StartDeviceAuthorization"); n != starts+1 {
		t.Errorf("StartDeviceAuthorization = %d, want %d: the login used a stale registration first", n, starts+1)
	}
	if n := h.fake.Calls("RegisterClient"); n != 2 {
		t.Errorf("RegisterClient after the login = %d, want 2", n)
	}
}

// A poll stuck on a half-open connection is abandoned after the per-call
// timeout; polling goes on and the login completes.
func TestStalledPollIsAbandoned(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.CallTimeout = 200 * time.Millisecond })
	h.fake.Lock()
	h.fake.StallPolls = 1
	h.fake.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{})
		done <- err
	}()
	h.approveInBrowser()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the login is held by a stalled poll")
	}
}

// Polling ends when the code expires even if every poll hangs.
func TestPollingEndsAtCodeExpiry(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.CallTimeout = time.Hour })
	h.fake.Lock()
	h.fake.StallPolls = 1000
	h.fake.DeviceCodeTTL = time.Second
	h.fake.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{NoBrowser: true})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "expired before it was approved") {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("polling outlived the code")
	}
}

// During an outage one fetch makes few calls and fails within seconds
// with the reason, leaving the spacing of attempts to the manager.
func TestOutageFetchIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the SDK's real retry backoff (2 s): make test runs it")
	}
	h := newHarness(t, nil)
	h.login()
	h.fake.Lock()
	h.fake.Outage = true
	h.fake.Unlock()
	before := h.fake.AllCalls()
	_, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"})
	if err == nil || errors.Is(err, creds.ErrLoginRequired) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Fetch during an outage: %v", err)
	}
	if n := h.fake.AllCalls() - before; n > callAttempts {
		t.Errorf("%d calls for one fetch during an outage, want at most %d", n, callAttempts)
	}
}

// AWS_ENDPOINT_URL alone points every Identity Center service at the
// fake, as the README says.
func TestGlobalEndpointURL(t *testing.T) {
	h := newHarness(t, nil)
	t.Setenv("AWS_ENDPOINT_URL", h.fake.URL)
	unsetenv(t, "AWS_ENDPOINT_URL_SSO")
	unsetenv(t, "AWS_ENDPOINT_URL_SSO_OIDC")
	h.login()
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
}

// expire replaces the session's token by an expired copy (tokens are
// never changed in place).
func expire(c *Client, key string) {
	st := c.state(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	t := *st.token
	t.ExpiresAt = time.Now().Add(-time.Minute)
	st.token = &t
}

// TestOutageRetriesBelongToTheManager: during an outage one refresh makes
// one GetRoleCredentials call (the manager's backoff retries, not the
// SDK), and the session's other slots ask nothing until the session's
// pause is over: with the manager's backoff (TestOutageRefreshesInTheFirstMinute
// in creds) that is at most 5 calls per slot in the first minute, and
// fewer per slot the more slots share the session.
func TestOutageRetriesBelongToTheManager(t *testing.T) {
	clk := fakeclock.New(time.Now())
	h := newHarness(t, func(o *Options) { o.Now = clk.Now })
	h.login()
	h.fake.Lock()
	h.fake.Outage = true
	h.fake.Unlock()
	ctx := context.Background()
	before := h.fake.AllCalls()
	if _, err := h.client.Fetch(ctx, creds.Profile{Name: "dev"}); err == nil || errors.Is(err, creds.ErrLoginRequired) {
		t.Fatalf("Fetch during an outage: %v", err)
	}
	if n := h.fake.AllCalls() - before; n != 1 {
		t.Errorf("%d calls for one refresh during an outage, want 1 (retries are the manager's)", n)
	}
	// Ten other slots of the session, at once: nothing goes out.
	for i := range 10 {
		_, err := h.client.Fetch(ctx, creds.Profile{Name: fmt.Sprintf("dev/%d", i), AccountID: "111111111111", RoleName: "ReadOnly", Session: "corp"})
		if err == nil || !strings.Contains(err.Error(), "failed moments ago") {
			t.Fatalf("a slot of the session during its pause: %v", err)
		}
	}
	if n := h.fake.AllCalls() - before; n != 1 {
		t.Errorf("%d calls for 11 slots of one session, want 1", n)
	}
	// After the pause one call goes out; when the service answers again
	// the session is open at once.
	clk.Advance(gateWait(1))
	h.fake.Lock()
	h.fake.Outage = false
	h.fake.Unlock()
	for range 2 {
		if _, err := h.client.Fetch(ctx, creds.Profile{Name: "dev"}); err != nil {
			t.Fatalf("after the outage: %v", err)
		}
	}
}

// TestRenewalWaitHeedsTheContext: a refresh waiting for its session's
// renewal (held by another) gives up when its context ends: at a stop,
// the slots waiting for one renewal do not run theirs one by one (each a
// keyring read and a CreateToken), which held a stop with 300 slots.
func TestRenewalWaitHeedsTheContext(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.login()
	st := h.client.state("corp")
	st.renewing <- struct{}{} // a renewal in progress, for good
	t.Cleanup(func() { <-st.renewing })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.client.renew(ctx, h.session("corp"), tok)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("renew = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // guards a hang; measures nothing
		t.Fatal("a renewal waiting for another ignores its context")
	}
}
