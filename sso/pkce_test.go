package sso

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
)

// onDesktop makes the environment look like a local graphical session.
func onDesktop(t *testing.T) {
	t.Setenv("DISPLAY", ":0")
	t.Setenv("SSH_CONNECTION", "")
	t.Setenv("SSH_TTY", "")
}

// browse visits url as a browser would; follow=false stops at the first
// redirect and returns its Location.
func browse(t *testing.T, u string, follow bool) (status int, body, location string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Error(err)
		return 0, "", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// pkceLogin runs a PKCE login of session corp while browser plays the
// user's browser with the URL it was sent to; it returns once both ended.
func (h *harness) pkceLogin(browser func(authURL string)) (*Token, error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case u := <-h.opened:
			browser(u)
		case <-time.After(10 * time.Second):
			h.t.Error("no browser was opened")
		}
	}()
	tok, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{PKCE: true})
	<-done
	return tok, err
}

func TestPKCELogin(t *testing.T) {
	onDesktop(t)
	h := newHarness(t, nil)
	var authURL, page string
	tok, err := h.pkceLogin(func(u string) {
		authURL = u
		var status int
		status, page, _ = browse(t, u, true)
		if status != 200 {
			t.Errorf("callback page: %d %s", status, page)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	if !strings.HasPrefix(authURL, h.fake.URL+"/authorize?") {
		t.Errorf("authorize URL %s is not the OIDC endpoint's /authorize", authURL)
	}
	redirect, _ := url.Parse(q.Get("redirect_uri"))
	for k, want := range map[string]string{"response_type": "code", "code_challenge_method": "S256", "scopes": "sso:account:access"} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if c := q.Get("code_challenge"); len(c) != 43 || strings.ContainsAny(c, "=+/") {
		t.Errorf("code_challenge %q is not base64url of a SHA-256 without padding", c)
	}
	if q.Get("state") == "" || q.Get("client_id") == "" || redirect.Hostname() != "127.0.0.1" || redirect.Port() == "" || redirect.Path != "/oauth/callback" {
		t.Errorf("authorize query = %v", q)
	}
	if !strings.Contains(page, "You can close this window") {
		t.Errorf("callback page = %q", page)
	}
	if tok.RefreshToken == "" || tok.Client != pkceClient {
		t.Errorf("token = %+v, want a refresh token from the PKCE registration", tok)
	}
	if n := h.fake.Calls("StartDeviceAuthorization"); n != 0 {
		t.Errorf("StartDeviceAuthorization = %d during a PKCE login", n)
	}
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	// The PKCE registration is kept apart from the device flow's.
	if _, err := gokeyring.Get("rolecall-test-"+t.Name(), pkceClient.entry("corp")); err != nil {
		t.Errorf("PKCE registration not stored: %v", err)
	}
	if _, err := gokeyring.Get("rolecall-test-"+t.Name(), deviceClient.entry("corp")); !errors.Is(err, gokeyring.ErrNotFound) {
		t.Errorf("device registration entry written by a PKCE login: %v", err)
	}
	// The listener is gone once the login is over.
	if c, err := net.Dial("tcp", redirect.Host); err == nil {
		c.Close()
		t.Errorf("callback listener %s still open after the login", redirect.Host)
	}
	// A second login reuses the PKCE registration.
	if _, err := h.pkceLogin(func(u string) { browse(t, u, true) }); err != nil {
		t.Fatal(err)
	}
	if n := h.fake.Calls("RegisterClient"); n != 1 {
		t.Errorf("RegisterClient = %d, want 1 (registration cached)", n)
	}
}

// tamper visits the authorize URL with one query value replaced, then
// follows the redirect with another replaced, as a forged or crossed
// request would.
func tamper(t *testing.T, authURL, authKey, authVal, backKey, backVal string) (int, string) {
	u, _ := url.Parse(authURL)
	if authKey != "" {
		q := u.Query()
		q.Set(authKey, authVal)
		u.RawQuery = q.Encode()
	}
	status, body, loc := browse(t, u.String(), false)
	if status != http.StatusFound {
		t.Errorf("authorize: %d %s", status, body)
		return status, body
	}
	back, _ := url.Parse(loc)
	if backKey != "" {
		q := back.Query()
		q.Set(backKey, backVal)
		back.RawQuery = q.Encode()
	}
	status, body, _ = browse(t, back.String(), false)
	return status, body
}

func TestPKCERefusals(t *testing.T) {
	onDesktop(t)
	t.Run("wrong state: refused, and the login goes on", func(t *testing.T) {
		h := newHarness(t, nil)
		var status, realStatus int
		var page string
		_, err := h.pkceLogin(func(u string) {
			status, page = tamper(t, u, "", "", "state", "forged")
			if n := h.fake.Calls("CreateToken"); n != 0 {
				t.Errorf("CreateToken = %d: a code with a wrong state was traded", n)
			}
			// The user's own browser then comes back with the right state.
			realStatus, _, _ = browse(t, u, true)
		})
		if err != nil {
			t.Errorf("a forged redirect ended the login: %v", err)
		}
		if status != http.StatusBadRequest || !strings.Contains(page, "another login's state") {
			t.Errorf("forged callback page: %d %q", status, page)
		}
		if realStatus != http.StatusOK {
			t.Errorf("the real callback: %d", realStatus)
		}
	})
	t.Run("wrong verifier", func(t *testing.T) {
		h := newHarness(t, nil)
		// A challenge that is not the one of rolecall's verifier.
		other := "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
		_, err := h.pkceLogin(func(u string) { tamper(t, u, "code_challenge", other, "", "") })
		if err == nil || !strings.Contains(err.Error(), "refused the authorization code") {
			t.Errorf("err = %v", err)
		}
		if n := h.fake.Calls("CreateToken"); n != 1 {
			t.Errorf("CreateToken = %d, want 1", n)
		}
	})
	t.Run("denied", func(t *testing.T) {
		h := newHarness(t, nil)
		h.fake.SetAuthorizeError("access_denied")
		_, err := h.pkceLogin(func(u string) { browse(t, u, true) })
		if err == nil || !strings.Contains(err.Error(), "access_denied") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("browser closed", func(t *testing.T) {
		h := newHarness(t, func(o *Options) { o.PKCEWait = 50 * time.Millisecond })
		var redirect string
		_, err := h.pkceLogin(func(u string) {
			pu, _ := url.Parse(u)
			redirect = pu.Query().Get("redirect_uri")
		})
		if err == nil || !strings.Contains(err.Error(), "no answer from the browser within 50ms") {
			t.Errorf("err = %v", err)
		}
		ru, _ := url.Parse(redirect)
		if c, err := net.Dial("tcp", ru.Host); err == nil {
			c.Close()
			t.Errorf("callback listener %s still open after the timeout", ru.Host)
		}
	})
}

func TestPKCECancelled(t *testing.T) {
	onDesktop(t)
	for _, how := range []string{"caller gone", "CancelLogin"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := h.client.Login(ctx, h.session("corp"), LoginOptions{PKCE: true})
				done <- err
			}()
			authURL := <-h.opened
			if how == "caller gone" {
				cancel()
			} else {
				h.client.CancelLogin("corp")
			}
			if err := <-done; !errors.Is(err, ErrLoginCancelled) {
				t.Fatalf("err = %v", err)
			}
			for h.client.state("corp").flowRunning(h.client) {
				time.Sleep(time.Millisecond)
			}
			// The redirect finds nobody now.
			u, _ := url.Parse(authURL)
			ru, _ := url.Parse(u.Query().Get("redirect_uri"))
			if c, err := net.Dial("tcp", ru.Host); err == nil {
				c.Close()
				t.Errorf("callback listener %s still open after the cancel", ru.Host)
			}
		})
	}
}

func TestDeviceFlowChosen(t *testing.T) {
	cases := []struct {
		name      string
		env       map[string]string
		flow      string
		opts      LoginOptions
		noBrowser bool
	}{
		{name: "default on a desktop", env: map[string]string{"DISPLAY": ":0"}},
		{name: "no-browser despite login_flow pkce", env: map[string]string{"DISPLAY": ":0"}, flow: LoginFlowPKCE, opts: LoginOptions{NoBrowser: true}, noBrowser: true},
		{name: "--pkce with --no-browser", env: map[string]string{"DISPLAY": ":0"}, opts: LoginOptions{PKCE: true, NoBrowser: true}, noBrowser: true},
		{name: "no display", flow: LoginFlowPKCE, opts: LoginOptions{PKCE: true}},
		{name: "ssh session", env: map[string]string{"DISPLAY": ":0", "SSH_CONNECTION": "192.0.2.1 50000 192.0.2.2 22"}, flow: LoginFlowPKCE},
		{name: "ssh tty", env: map[string]string{"WAYLAND_DISPLAY": "wayland-0", "SSH_TTY": "/dev/pts/3"}, opts: LoginOptions{PKCE: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "no display" && (runtime.GOOS == "windows" || runtime.GOOS == "darwin") {
				t.Skip("Windows and macOS always have a display: there the PKCE flow is chosen")
			}
			for _, k := range []string{"DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY"} {
				t.Setenv(k, tc.env[k])
			}
			h := newHarness(t, func(o *Options) { o.LoginFlow = tc.flow })
			go func() {
				if tc.noBrowser {
					for len(h.fake.PendingCodes()) == 0 {
						time.Sleep(time.Millisecond)
					}
					h.fake.Approve(h.fake.PendingCodes()[0])
					return
				}
				h.approveInBrowser()
			}()
			tok, err := h.client.Login(context.Background(), h.session("corp"), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Client != deviceClient || h.fake.Calls("StartDeviceAuthorization") != 1 || h.fake.Calls("Authorize") != 0 {
				t.Errorf("not the device flow: client %q, StartDeviceAuthorization %d, Authorize %d",
					tok.Client, h.fake.Calls("StartDeviceAuthorization"), h.fake.Calls("Authorize"))
			}
		})
	}
	t.Run("login_flow pkce on a desktop", func(t *testing.T) {
		onDesktop(t)
		h := newHarness(t, func(o *Options) { o.LoginFlow = LoginFlowPKCE })
		go func() { browse(t, <-h.opened, true) }()
		tok, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if tok.Client != pkceClient {
			t.Errorf("login_flow pkce used the %q flow", tok.Client)
		}
	})
}

func TestRenewalAfterPKCELogin(t *testing.T) {
	onDesktop(t)
	h := newHarness(t, nil)
	h.fake.Lock()
	h.fake.AccessTokenTTL = 10 * time.Minute // below renewBefore: renewed at next use
	h.fake.Unlock()
	first, err := h.pkceLogin(func(u string) { browse(t, u, true) })
	if err != nil {
		t.Fatal(err)
	}
	// After a restart, the token read from the keyring still knows which
	// registration renews it.
	again := NewClient(h.client.opts)
	if _, err := again.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatalf("fetch after a PKCE login and a restart: %v", err)
	}
	st := again.state("corp")
	again.mu.Lock()
	renewed := st.token
	again.mu.Unlock()
	if renewed.AccessToken == first.AccessToken || renewed.Client != pkceClient {
		t.Errorf("token not renewed with the PKCE registration: %+v", renewed)
	}
	if n := h.fake.Calls("CreateToken"); n != 2 {
		t.Errorf("CreateToken = %d, want 2 (code, then refresh token)", n)
	}
}
