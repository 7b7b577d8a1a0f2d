package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// firstLine is what a person reads first.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestEveryVerbHelp walks every verb: `-h` prints its usage on stdout and
// exits 0, without a running rolecall.
func TestEveryVerbHelp(t *testing.T) {
	t.Setenv(control.SocketEnv, filepath.Join(t.TempDir(), "none.sock"))
	for _, verb := range verbs() {
		for _, h := range []string{"-h", "--help"} {
			out, errOut, rc := cliRun(t, verb, h)
			if rc != 0 || !strings.HasPrefix(out, "Usage: rolecall "+verb) {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q", verb, h, rc, out, errOut)
			}
		}
	}
	for _, args := range [][]string{{"tls", "save", "-h"}, {"tls", "print", "-h"}, {"tls", "delete", "-h"}} {
		if out, _, rc := cliRun(t, args...); rc != 0 || !strings.HasPrefix(out, "Usage: rolecall tls") {
			t.Errorf("%v: exit %d, %q", args, rc, out)
		}
	}
	if out, _, _ := cliRun(t, "serve", "-h"); !strings.Contains(firstLine(out), "[--debug]") {
		t.Errorf("serve -h usage line lacks --debug: %q", firstLine(out))
	}
}

// quietEngine starts an engine that fetches nothing, on port, with its
// control socket at sock.
func quietEngine(t *testing.T, port int, sock string, mods ...func(*engine.Config)) (*engine.Engine, error) {
	t.Helper()
	gokeyring.MockInit()
	st := settings.Defaults()
	st.Port, st.AuditLog = port, false
	t.Setenv(control.SocketEnv, sock)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(filepath.Dir(sock), "config"))
	cfg := engine.Config{
		Settings: st, Socket: sock, StateDir: filepath.Join(filepath.Dir(sock), "state"),
		Fetcher: creds.FetcherFunc(func(context.Context, creds.Profile) (creds.Credentials, error) {
			return creds.Credentials{}, errors.New("no upstream in this test")
		}),
		Resolve: resolveByName, Keyring: keyring.New("rolecall-test", nil), Log: newLogger(os.Stderr, false),
	}
	for _, m := range mods {
		m(&cfg)
	}
	e, err := engine.Start(context.Background(), cfg)
	if err == nil {
		t.Cleanup(e.Close)
	}
	return e, err
}

// TestStartMessages: a taken port names the setting to change (and says
// "listen" once); a second instance says what to do instead.
func TestStartMessages(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = quietEngine(t, port, filepath.Join(dir, "a", "control.sock"))
	cfg, _ := settings.Path()
	want := "port " + strconv.Itoa(port) + " is taken by another program (or another rolecall): set `port = N` with a free port in " +
		cfg + ", then use the new URL in your IDE settings"
	if err == nil || firstLine(err.Error()) != want {
		t.Errorf("port taken:\ngot  %v\nwant %s", err, want)
	}

	// The same port given with --port: the text names the flag.
	_, err = quietEngine(t, port, filepath.Join(dir, "f", "control.sock"), func(c *engine.Config) { c.PortFlag = true })
	want = "port " + strconv.Itoa(port) + ", given with --port, is taken by another program (or another rolecall): run again with another --port N, " +
		"then use the new URL in your IDE settings"
	if err == nil || firstLine(err.Error()) != want {
		t.Errorf("port taken, from --port:\ngot  %v\nwant %s", err, want)
	}

	sock := filepath.Join(dir, "b", "control.sock")
	if _, err := quietEngine(t, 0, sock); err != nil {
		t.Fatal(err)
	}
	// Another state dir, the same socket: the control channel tells (with
	// the same state dir, the instance lock does: engine.TestInstanceLock).
	_, err = quietEngine(t, 0, sock, func(c *engine.Config) { c.StateDir = filepath.Join(dir, "b2", "state") })
	want = "rolecall is already running (pid " + strconv.Itoa(os.Getpid()) + "): `rolecall list` talks to it, `rolecall stop` stops it"
	if err == nil || firstLine(err.Error()) != want {
		t.Errorf("second instance:\ngot  %v\nwant %s", err, want)
	}
}

// TestStopVerb: `rolecall stop` answers, then asks the process to stop.
func TestStopVerb(t *testing.T) {
	e, err := quietEngine(t, 0, filepath.Join(t.TempDir(), "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, rc := cliRun(t, "stop")
	if rc != 0 || out != "rolecall (pid "+strconv.Itoa(os.Getpid())+") is stopping\n" {
		t.Errorf("stop: exit %d %q %q", rc, out, errOut)
	}
	select {
	case <-e.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the process was not asked to stop")
	}
}

// TestUnloadMessages: unloading what is not loaded says so and lists what
// is, instead of advising a load.
func TestUnloadMessages(t *testing.T) {
	e, err := quietEngine(t, 0, filepath.Join(t.TempDir(), "control.sock"), func(c *engine.Config) {
		c.Fetcher = creds.FetcherFunc(func(context.Context, creds.Profile) (creds.Credentials, error) {
			now := time.Now()
			return creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
				Issued: now, Expiration: now.Add(time.Hour)}, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		loaded []string
		args   []string
		want   string
	}{
		{"named, none loaded", nil, []string{"unload", "--profile", "prod"}, `rolecall: slot "prod" is not loaded; no named slot is loaded`},
		{"named, others loaded", []string{"dev", "team+ops"}, []string{"unload", "--profile", "prod"}, `rolecall: slot "prod" is not loaded; loaded: "dev" and "team+ops"`},
		{"default, empty", nil, []string{"unload"}, "rolecall: the default slot is empty already; `rolecall list` shows what is loaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.loaded {
				if err := e.Load(s, true); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() {
				for _, s := range tt.loaded {
					e.Unload(s)
				}
			})
			_, errOut, rc := cliRun(t, tt.args...)
			if rc != 1 || firstLine(errOut) != tt.want {
				t.Errorf("exit %d\ngot  %s\nwant %s", rc, firstLine(errOut), tt.want)
			}
		})
	}
}

// TestLoadNamesTheSession: a load whose session needs a login names the
// command with that session (`rolecall login` alone refuses when there
// are two).
func TestLoadNamesTheSession(t *testing.T) {
	_, err := quietEngine(t, 0, filepath.Join(t.TempDir(), "control.sock"), func(c *engine.Config) {
		c.Fetcher = creds.FetcherFunc(func(context.Context, creds.Profile) (creds.Credentials, error) {
			return creds.Credentials{}, fmt.Errorf("sso session lab: %w", creds.ErrLoginRequired)
		})
		c.Resolve = func(_ context.Context, req control.LoadRequest) (creds.Profile, error) {
			return creds.Profile{Name: req.Profile, Session: "lab"}, nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, rc := cliRun(t, "load", "--profile", "dev")
	if want := "rolecall: load dev: sso session lab: login required: run `rolecall login --sso-session lab`, then retry"; rc != 1 || firstLine(errOut) != want {
		t.Errorf("exit %d\ngot  %s\nwant %s", rc, firstLine(errOut), want)
	}
}

// slowSessions is an Identity Center that shows its code only when
// released.
type slowSessions struct{ release chan struct{} }

func (s slowSessions) Login(ctx context.Context, req control.LoginRequest, prompt func(control.LoginPrompt)) (control.LoginResult, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return control.LoginResult{}, ctx.Err()
	}
	prompt(control.LoginPrompt{Session: "corp", UserCode: "ABCD-EFGH", VerificationURIComplete: "https://device.sso.example/?user_code=ABCD-EFGH"})
	return control.LoginResult{Session: "corp", ExpiresAt: "2099-01-01T00:00:00Z"}, nil
}
func (slowSessions) Logout(context.Context, string) (string, error) { return "", nil }
func (slowSessions) Roles(context.Context) (control.Roles, error)   { return control.Roles{}, nil }
func (slowSessions) Status(context.Context) ([]control.SessionInfo, error) {
	return nil, nil
}

// TestLoginProgress: a login that waits for Identity Center says so
// before the code arrives.
func TestLoginProgress(t *testing.T) {
	old := loginWaitNotice
	loginWaitNotice = time.Millisecond
	t.Cleanup(func() { loginWaitNotice = old })
	release := make(chan struct{})
	_, err := quietEngine(t, 0, filepath.Join(t.TempDir(), "control.sock"), func(c *engine.Config) {
		c.Sessions = slowSessions{release: release}
	})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"login", "--no-browser"}, &stdout, &stderr) }()
	const want = "waiting for IAM Identity Center to answer (rolecall gives up after 15 s)..."
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("no progress line while Identity Center is silent: %q", stderr.String())
		}
	}
	close(release)
	if rc := <-done; rc != 0 || firstLine(stderr.String()) != want || !strings.Contains(stderr.String(), "ABCD-EFGH") {
		t.Errorf("exit %d, stderr %q", rc, stderr.String())
	}
}

// TestEnvOutput: the token alone by default (never both forms: the
// JavaScript SDK v3 warns on every fetch), the file alone with
// --token-file-only, the slot's region with it, and the IMDS endpoint with
// its trailing slash and AWS_EC2_METADATA_DISABLED=false (the AWS CDK).
func TestEnvOutput(t *testing.T) {
	e := control.Env{FullURI: "http://127.0.0.1:4144/", TokenFile: "/home/me/.local/state/rolecall/token", Token: "tok-EXAMPLE-0123456789"}
	withRegion := e
	withRegion.Region = "eu-west-1"
	tests := []struct {
		name string
		e    control.Env
		o    envOptions
		want string
	}{
		{"token", e, envOptions{}, `unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ACCESS_KEY AWS_SECRET_KEY AWS_CREDENTIAL_EXPIRATION AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_SESSION_NAME AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
export AWS_CONTAINER_CREDENTIALS_FULL_URI='http://127.0.0.1:4144/'
export AWS_CONTAINER_AUTHORIZATION_TOKEN='tok-EXAMPLE-0123456789'
`},
		{"region", withRegion, envOptions{}, `unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ACCESS_KEY AWS_SECRET_KEY AWS_CREDENTIAL_EXPIRATION AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_SESSION_NAME AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
export AWS_CONTAINER_CREDENTIALS_FULL_URI='http://127.0.0.1:4144/'
export AWS_CONTAINER_AUTHORIZATION_TOKEN='tok-EXAMPLE-0123456789'
export AWS_REGION='eu-west-1'
export AWS_DEFAULT_REGION='eu-west-1'
`},
		{"token file only", e, envOptions{fileOnly: true}, `unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ACCESS_KEY AWS_SECRET_KEY AWS_CREDENTIAL_EXPIRATION AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_SESSION_NAME AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN
export AWS_CONTAINER_CREDENTIALS_FULL_URI='http://127.0.0.1:4144/'
export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE='/home/me/.local/state/rolecall/token'
`},
		{"imds", e, envOptions{imds: true}, `unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ACCESS_KEY AWS_SECRET_KEY AWS_CREDENTIAL_EXPIRATION AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_SESSION_NAME AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
export AWS_EC2_METADATA_SERVICE_ENDPOINT='http://127.0.0.1:4144/'
export AWS_EC2_METADATA_DISABLED='false'
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exports("sh", tt.e, tt.o); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	fish := exports("fish", e, envOptions{})
	if !strings.Contains(fish, "set -gx AWS_CONTAINER_AUTHORIZATION_TOKEN 'tok-EXAMPLE-0123456789';\n") {
		t.Errorf("fish: %s", fish)
	}
	if _, errOut, rc := cliRun(t, "env", "--imds", "--profile", "prod"); rc != 2 ||
		firstLine(errOut) != "rolecall env: --imds serves the default slot only: load the role into it, or use the container endpoint for a named slot" {
		t.Errorf("env --imds --profile: %d %q", rc, errOut)
	}
}

// TestCopyMessages: the IDE settings carry one token form under a
// comment naming the other; a missing clipboard tool is named for this desktop.
func TestCopyMessages(t *testing.T) {
	ide := ideSettings(control.Env{FullURI: "http://127.0.0.1:4144/", TokenFile: "/t", Token: "tok"})
	if want := "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:4144/\nAWS_CONTAINER_AUTHORIZATION_TOKEN=tok\n"; !strings.HasPrefix(ide, "# ") || !strings.HasSuffix(ide, want) {
		t.Errorf("IDE settings:\n%s", ide)
	}
	missing := errNoClipboardTool
	tests := []struct {
		name string
		goos string
		env  map[string]string
		err  error
		want string
	}{
		{"wayland", "linux", map[string]string{"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, missing,
			"nothing to copy with: install wl-clipboard (sudo apt-get install wl-clipboard), or copy from `rolecall env`"},
		{"x11", "linux", map[string]string{"DISPLAY": ":0"}, missing,
			"nothing to copy with: install xclip (sudo apt-get install xclip), or copy from `rolecall env`"},
		{"no display", "linux", nil, missing,
			"no desktop clipboard in this session (neither WAYLAND_DISPLAY nor DISPLAY is set): copy from `rolecall env` instead"},
		{"tool failed", "linux", map[string]string{"DISPLAY": ":0"}, errors.New("exit status 1"),
			"could not copy to the clipboard (exit status 1): copy from `rolecall env` instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clipboardAdvice(tt.goos, func(k string) string { return tt.env[k] }, tt.err); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestStopProcess: `rolecall stop` ends a running `rolecall serve`, which
// exits 0 and removes its socket.
func TestStopProcess(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, serveEnv(dir, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus")), freePort(t))
	if out, err := p.verb("stop"); err != nil || !strings.HasPrefix(out, "rolecall (pid ") {
		t.Fatalf("stop: %v %q", err, out)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after stop: %v\n%s", err, p.logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after `rolecall stop`")
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "rolecall", "control.sock")); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
}
