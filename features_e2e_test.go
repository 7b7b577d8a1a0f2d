package main

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

// TestFeaturesEndToEnd runs `rolecall serve` against the fake Identity
// Center and moto: `login --pkce` completed by a fake browser that follows
// the redirect back to rolecall; `console --print` against the fake
// federation endpoint; then, after a kill -9 and a restart with nothing
// loaded, named slots on demand for the Go SDK and the AWS CLI on their
// first call, while an unknown name stays 404.
func TestFeaturesEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		skipOrFail(t, "the AWS CLI (aws) is missing")
	}
	stsURL := moto(t)
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	fake := fakeidc.New()
	defer fake.Close()
	fake.Accounts = []fakeidc.Account{{ID: "111111111111", Name: "dev", Roles: []string{"Admin"}}}
	fake.Mint = motoMint(t, stsURL)

	dir := t.TempDir()
	cfg := corpConfig(t, dir, fake.URL, `region = eu-west-1

[profile ops]
role_arn = arn:aws:iam::111111111111:role/ops
source_profile = dev
`)
	pathEnv, browserLog := fakeBrowser(t, dir)
	env := append(os.Environ(), s.Env...)
	env = append(env, pathEnv, "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+cfg, "HOME="+dir,
		"DISPLAY=:99", "SSH_CONNECTION=", "SSH_TTY=", "AWS_PROFILE=",
		"AWS_ENDPOINT_URL_SSO_OIDC="+fake.URL, "AWS_ENDPOINT_URL_SSO="+fake.URL, "AWS_ENDPOINT_URL_STS="+stsURL,
		"ROLECALL_FEDERATION_ENDPOINT="+fake.URL+"/federation")
	port := freePort(t)
	p := startServe(t, env, port)
	mustVerb := func(args ...string) string {
		t.Helper()
		out, err := p.verb(args...)
		if err != nil {
			t.Fatalf("rolecall %s: %v\n%s\nserve logs:\n%s", strings.Join(args, " "), err, out, p.logs.String())
		}
		return out
	}

	out := mustVerb("login", "--pkce")
	if !strings.Contains(out, "Waiting for the browser to come back to rolecall") || !strings.Contains(out, "signed in to corp until") {
		t.Errorf("login --pkce printed %q", out)
	}
	if b, _ := os.ReadFile(browserLog); !strings.Contains(string(b), fake.URL+"/authorize?") {
		t.Errorf("browser opened %q, want the /authorize URL", b)
	}
	launcherCmdlines(t, browserLog)
	if n := fake.Calls("StartDeviceAuthorization"); n != 0 {
		t.Errorf("device authorizations = %d during a PKCE login", n)
	}

	// The console as dev, in dev's region.
	signin := strings.TrimSpace(mustVerb("console", "--profile", "dev", "--print"))
	u, err := url.Parse(signin)
	if err != nil || !strings.HasPrefix(signin, fake.URL+"/federation?") || u.Query().Get("Action") != "login" {
		t.Fatalf("console --print = %q", signin)
	}
	if d := u.Query().Get("Destination"); d != "https://console.aws.amazon.com/console/home?region=eu-west-1" {
		t.Errorf("Destination = %q", d)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	if resp, err := noFollow.Get(signin); err != nil || resp.StatusCode != http.StatusFound {
		t.Errorf("the sign-in URL was not accepted: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// A restart: nothing is loaded, the session comes from the keyring.
	p.cmd.Process.Kill()
	p.cmd.Wait()
	os.Remove(filepath.Join(s.Dir, "run", "rolecall", "control.sock"))
	p = startServe(t, env, port)
	tokenFile := filepath.Join(s.Dir, "state", "rolecall", "token")
	wantAssumed(t, "Go SDK, /slot/dev on demand", goCallerIdentity(t, clientEnv(t, p.url+"/slot/dev", tokenFile), stsURL), "Admin")
	arn := runClient(t, clientEnv(t, p.url+"/slot/ops", tokenFile), "aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json")
	wantAssumed(t, "AWS CLI, /slot/ops on demand", arn, "ops")
	tok, _ := os.ReadFile(tokenFile)
	if code := getStatus(t, p.url+"/slot/nope", string(tok)); code != http.StatusNotFound {
		t.Errorf("unknown slot name: %d, want 404", code)
	}
	if out := mustVerb("list"); !strings.Contains(out, "dev") || !strings.Contains(out, "ops") || strings.Contains(out, "nope") {
		t.Errorf("list after on-demand loads:\n%s", out)
	}
	if n := fake.Calls("RegisterClient"); n != 1 {
		t.Errorf("RegisterClient = %d, want 1", n)
	}
}
