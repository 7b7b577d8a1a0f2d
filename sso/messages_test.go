package sso

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/creds"
)

// firstLine is what a person reads first.
func firstLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// TestConfigMessages: each mistake in the AWS config gives one line that
// names it and says what to do; a typo is never sent to a login.
func TestConfigMessages(t *testing.T) {
	const twoSessions = testConfig + `
[sso-session lab]
sso_start_url = https://lab.awsapps.com/start
sso_region = eu-west-1

[profile broken]
sso_session = nosuch
sso_account_id = 111111111111
sso_role_name = Admin
`
	tests := []struct {
		name    string
		config  string // "" for no file at all
		do      func(c *Client) error
		want    string // PATH stands for the config file
		loginRq bool   // wraps creds.ErrLoginRequired
	}{
		{"no config: load", "", func(c *Client) error { _, err := c.Resolve(context.Background(), "dev", "", ""); return err },
			"no AWS config at PATH: create it with an [sso-session NAME] section (sso_start_url, sso_region) and a profile using it; the README's Quick start has an example to paste into PATH", false},
		{"no config: roles", "", func(c *Client) error { _, _, err := c.Roles(context.Background()); return err },
			"no AWS config at PATH: create it with an [sso-session NAME] section (sso_start_url, sso_region) and a profile using it; the README's Quick start has an example to paste into PATH", false},
		{"no config: login", "", func(c *Client) error { _, err := c.Session(context.Background(), ""); return err },
			"no AWS config at PATH: create it with an [sso-session NAME] section (sso_start_url, sso_region) and a profile using it; the README's Quick start has an example to paste into PATH", false},
		{"no sso-session", "[profile keys]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n", func(c *Client) error { _, err := c.Session(context.Background(), ""); return err },
			"no IAM Identity Center session in PATH: add an [sso-session NAME] section with sso_start_url and sso_region (see the README's Quick start)", false},
		{"two sessions: login", twoSessions, func(c *Client) error { _, err := c.Session(context.Background(), ""); return err },
			"PATH has 3 sso-sessions: choose one with --sso-session (corp, https://legacy.awsapps.com/start, lab)", false},
		{"typo in case", twoSessions, func(c *Client) error { _, err := c.Resolve(context.Background(), "Dev", "", ""); return err },
			"no profile named Dev; did you mean dev?", false},
		{"typo in letters", twoSessions, func(c *Client) error { _, err := c.Resolve(context.Background(), "lgeacy", "", ""); return err },
			"no profile named lgeacy; did you mean legacy?", false},
		{"unknown name, sessions not signed in", twoSessions, func(c *Client) error { _, err := c.Resolve(context.Background(), "staging", "", ""); return err },
			"no profile named staging; the roles of sso-session corp, https://legacy.awsapps.com/start and lab are not known until you sign in: run `rolecall login --sso-session corp`, then retry", true},
		{"account and role, not signed in", testConfig, func(c *Client) error {
			_, err := c.Resolve(context.Background(), "", "999999999999", "Admin")
			return err
		}, "no role Admin in account 999999999999; the roles of sso-session corp and https://legacy.awsapps.com/start are not known until you sign in: run `rolecall login --sso-session corp`, then retry", true},
		{"sso_session without its section", twoSessions, func(c *Client) error { _, err := c.Resolve(context.Background(), "broken", "", ""); return err },
			"profile broken cannot be served: it uses sso_session nosuch, but PATH has no [sso-session nosuch] section: add one with sso_start_url and sso_region, or correct the name", false},
		{"unknown session named", twoSessions, func(c *Client) error { _, err := c.Session(context.Background(), "corpp"); return err },
			"no sso-session \"corpp\" in PATH: add an [sso-session corpp] section with sso_start_url and sso_region", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			if tt.config == "" {
				os.Remove(h.cfgPath)
			} else {
				os.WriteFile(h.cfgPath, []byte(tt.config), 0o600)
			}
			err := tt.do(h.client)
			want := strings.ReplaceAll(tt.want, "PATH", h.cfgPath)
			if got := firstLine(err); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if errors.Is(err, creds.ErrLoginRequired) != tt.loginRq {
				t.Errorf("login required = %v, want %v", !tt.loginRq, tt.loginRq)
			}
		})
	}
}

// TestDiscoveredNamesAcrossSessions: two sessions with accounts of the
// same name get the session in the name, and the bare name is refused
// with the choices.
func TestDiscoveredNamesAcrossSessions(t *testing.T) {
	h := newHarness(t, nil)
	os.WriteFile(h.cfgPath, []byte(testConfig+"\n[sso-session lab]\nsso_start_url = https://lab.awsapps.com/start\nsso_region = eu-west-1\n"), 0o600)
	ctx := context.Background()
	h.login()
	go h.approveInBrowser()
	if _, err := h.client.Login(ctx, h.session("lab"), LoginOptions{}); err != nil {
		t.Fatal(err)
	}
	roles, _, err := h.client.Roles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range roles {
		names[r.Name] = true
	}
	for _, want := range []string{"dev/Admin (corp)", "dev/Admin (lab)", "dev", "legacy"} {
		if !names[want] {
			t.Errorf("no role named %q in %v", want, names)
		}
	}
	if names["dev/Admin"] {
		t.Error("the bare name dev/Admin is listed: it is ambiguous")
	}
	cached, _ := h.client.CachedRoles(ctx)
	for _, r := range cached {
		if r.Name == "dev/Admin" {
			t.Error("the tray's cached roles have the ambiguous name")
		}
	}
	_, err = h.client.Resolve(ctx, "dev/Admin", "", "")
	if want := `dev/Admin names more than one role: load one of "dev/Admin (corp)" and "dev/Admin (lab)"`; firstLine(err) != want {
		t.Errorf("ambiguous load: %v\nwant %s", err, want)
	}
	_, err = h.client.Resolve(ctx, "dev/admin (lab)", "", "")
	if want := "no profile named dev/admin (lab); did you mean dev/Admin (lab)?"; firstLine(err) != want {
		t.Errorf("typo in a discovered name: %v\nwant %s", err, want)
	}
	p, err := h.client.Resolve(ctx, "dev/Admin (lab)", "", "")
	if err != nil || p.Session != "lab" || p.AccountID != "111111111111" || p.RoleName != "Admin" {
		t.Errorf("load of the session's name: %+v %v", p, err)
	}
}

// TestLoginUnreachable: a login that cannot reach Identity Center says
// where it looked and what may be wrong, after one retry, not a backoff.
func TestLoginUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, tt := range []struct{ name, endpoint, host string }{
		{"connection refused", "http://" + closed, closed},
		{"no such host", "http://oidc.nosuch.invalid", "oidc.nosuch.invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			t.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", tt.endpoint)
			_, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{NoBrowser: true})
			want := "cannot reach Identity Center at " + tt.host + " (network, proxy, or sso_region?)"
			if got := firstLine(err); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
