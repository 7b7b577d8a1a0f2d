package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/testpki"
	"github.com/rolecall/rolecall/private"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

func TestVerbsAgainstRunningProcess(t *testing.T) {
	e, _ := testEngine(t, nil)

	if out := mustCLI(t, "list"); !strings.Contains(out, "no slots loaded") {
		t.Errorf("list when empty: %q", out)
	}
	if _, errOut, rc := cliRun(t, "current"); rc != 1 || !strings.Contains(errOut, "no role loaded") {
		t.Errorf("current when empty: %d %q", rc, errOut)
	}
	if out := mustCLI(t, "load", "--profile", "dev"); !strings.Contains(out, "loaded dev into the default slot") {
		t.Errorf("load: %q", out)
	}
	mustCLI(t, "load", "--account", "123456789012", "--role", "ReadOnly", "--slot")
	if out := mustCLI(t, "current"); out != "dev\n" {
		t.Errorf("current = %q", out)
	}

	var slots []control.SlotInfo
	if err := json.Unmarshal([]byte(mustCLI(t, "list", "--json")), &slots); err != nil {
		t.Fatal(err)
	}
	if len(slots) != 2 || slots[0].Slot != "default" || slots[0].Profile != "dev" || slots[0].State != "ok" ||
		slots[1].Slot != "123456789012/ReadOnly" || slots[0].Expiration == "" || slots[0].RoleARN == "" {
		t.Fatalf("list --json = %+v", slots)
	}
	if out := mustCLI(t, "list"); !strings.Contains(out, "SLOT") || !strings.Contains(out, "123456789012/ReadOnly") {
		t.Errorf("list = %q", out)
	}

	// env in each syntax
	sh := mustCLI(t, "env", "--shell", "sh")
	if !strings.Contains(sh, "export AWS_CONTAINER_CREDENTIALS_FULL_URI='http://127.0.0.1:") || !strings.Contains(sh, "unset AWS_PROFILE") {
		t.Errorf("env sh = %q", sh)
	}
	fish := mustCLI(t, "env", "--shell", "fish", "--profile", "123456789012/ReadOnly")
	if !strings.Contains(fish, "set -gx AWS_CONTAINER_CREDENTIALS_FULL_URI 'http://127.0.0.1:") || !strings.Contains(fish, "/slot/123456789012%2FReadOnly'") {
		t.Errorf("env fish = %q", fish)
	}
	if ps := mustCLI(t, "env", "--shell", "powershell"); !strings.Contains(ps, "$Env:AWS_CONTAINER_AUTHORIZATION_TOKEN = '") {
		t.Errorf("env powershell = %q", ps)
	}

	// token: the token file holds it with no trailing newline; rotation
	// changes both and the old token stops working.
	tok := strings.TrimSpace(mustCLI(t, "token"))
	tokenFile := e.Env().TokenFile
	if b, _ := os.ReadFile(tokenFile); string(b) != tok {
		t.Errorf("token file %q, token %q", b, tok)
	}
	// Mode 0600 on Unix, a current-user-only ACL on Windows.
	if err := private.Check(tokenFile); err != nil {
		t.Errorf("token file: %v", err)
	}
	newTok := strings.TrimSpace(mustCLI(t, "token", "--rotate"))
	if newTok == tok || len(newTok) != 43 {
		t.Errorf("rotated token %q", newTok)
	}
	if b, _ := os.ReadFile(tokenFile); string(b) != newTok {
		t.Errorf("token file after rotation %q", b)
	}
	if code := getStatus(t, e.Env().FullURI, tok); code != 403 {
		t.Errorf("old token after rotation: %d", code)
	}
	if code := getStatus(t, e.Env().FullURI, newTok); code != 200 {
		t.Errorf("new token: %d", code)
	}

	// unload
	mustCLI(t, "unload", "--profile", "123456789012/ReadOnly")
	if _, errOut, rc := cliRun(t, "unload", "--profile", "123456789012/ReadOnly"); rc != 1 || !strings.Contains(errOut, "is not loaded") {
		t.Errorf("second unload: %d %q", rc, errOut)
	}
	mustCLI(t, "unload")
	if code := getStatus(t, e.Env().FullURI, newTok); code != 404 {
		t.Errorf("after unload: %d", code)
	}

	// tls save / print / delete
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, "127.0.0.1")
	if _, errOut, rc := cliRun(t, "tls", "print"); rc != 1 || !strings.Contains(errOut, "no TLS certificate saved") {
		t.Errorf("tls print with none: %d %q", rc, errOut)
	}
	if out := mustCLI(t, "tls", "save", "--cert", certFile, "--key", keyFile); !strings.Contains(out, "restart") {
		t.Errorf("tls save on a plain listener: %q", out)
	}
	if out := mustCLI(t, "tls", "print"); !strings.HasPrefix(out, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("tls print: %q", out)
	}
	if _, errOut, rc := cliRun(t, "tls", "save", "--cert", keyFile, "--key", keyFile); rc != 1 || !strings.Contains(errOut, "usable pair") {
		t.Errorf("tls save with a bad pair: %d %q", rc, errOut)
	}
	mustCLI(t, "tls", "delete")
	if _, _, rc := cliRun(t, "tls", "print"); rc != 1 {
		t.Error("tls print after delete succeeded")
	}
}

func TestLoadFailureKeepsSlot(t *testing.T) {
	testEngine(t, nil)
	mustCLI(t, "load", "--profile", "dev")
	_, errOut, rc := cliRun(t, "load", "--profile", "missing-profile")
	if rc != 1 || !strings.HasPrefix(errOut, "rolecall: load ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("failed load: %d %q (want one line, exit 1)", rc, errOut)
	}
	if out := mustCLI(t, "current"); out != "dev\n" {
		t.Errorf("after a failed load current = %q, want dev", out)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv(control.SocketEnv, filepath.Join(t.TempDir(), "none.sock"))
	tests := []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"load"}, 2, "name a profile"},
		{[]string{"load", "--profile", "a", "--role", "b"}, 2, "exclude each other"},
		{[]string{"load", "--account", "1"}, 2, "go together"},
		{[]string{"list", "extra"}, 2, "unexpected argument"},
		{[]string{"env", "--shell", "tcsh"}, 2, "choose sh, fish or powershell"},
		{[]string{"tls"}, 2, "Usage"},
		{[]string{"tls", "save"}, 2, "both --cert and --key"},
		{[]string{"serve", "--port", "99999"}, 2, "not a port number"},
		{[]string{"list"}, 1, "rolecall is not running: start it with `rolecall` (tray) or `rolecall serve`"},
		{[]string{"load", "--profile", "dev"}, 1, "rolecall is not running"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, rc := cliRun(t, tt.args...)
			if rc != tt.rc || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d containing %q", rc, errOut, tt.rc, tt.want)
			}
		})
	}
	if out, _, rc := cliRun(t, "load", "-h"); rc != 0 {
		t.Errorf("load -h: exit %d %q", rc, out)
	}
	if out, _, rc := cliRun(t, "version"); rc != 0 || !strings.HasPrefix(out, "rolecall ") {
		t.Errorf("version: %d %q", rc, out)
	}
}

// buildBinary builds rolecall once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "rolecall-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rolecall")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
})

// builtBinary is rolecall built for this system, or a skip where there is
// no Go toolchain (the Windows test binaries under wine: there,
// TestWindowsEndToEnd runs the Windows build).
func builtBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is missing: this test builds rolecall")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// syncBuffer is a bytes.Buffer that a process may write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serveProc is `rolecall serve` running as a process.
type serveProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	url  string
	env  []string
	bin  string
}

// startServe starts the built binary with env (and extra flags of serve)
// and waits for /healthz.
func startServe(t *testing.T, env []string, port string, extra ...string) *serveProc {
	t.Helper()
	desktoptest.SkipShort(t, "starts rolecall serve")
	bin := builtBinary(t)
	p := &serveProc{logs: &syncBuffer{}, url: "http://127.0.0.1:" + port, env: env, bin: bin}
	p.cmd = exec.Command(bin, append([]string{"serve", "--port", port}, extra...)...)
	p.cmd.Env, p.cmd.Stderr = env, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/healthz"); err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz answer:\n%s", p.logs.String())
		}
	}
}

// verb runs a CLI verb of the built binary in the process's environment.
func (p *serveProc) verb(args ...string) (string, error) {
	c := exec.Command(p.bin, args...)
	c.Env = p.env
	out, err := c.CombinedOutput()
	return string(out), err
}

// serveEnv is a private home for a serve process: XDG dirs in dir.
func serveEnv(dir string, extra ...string) []string {
	env := append(os.Environ(),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"ROLECALL_SOCKET=",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "aws-config"),
		"HOME="+dir,
	)
	return append(env, extra...)
}

// TestServeProcess runs the built binary: serve, answer /healthz, serve the
// verbs, refuse a second instance, and shut down cleanly on SIGTERM.
func TestServeProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("stops serve with SIGTERM and reads the XDG dirs: Unix only; on Windows, TestWindowsEndToEnd (make test-windows) runs serve")
	}
	dir := t.TempDir()
	port := freePort(t)
	os.MkdirAll(filepath.Join(dir, "config", "rolecall"), 0o700)
	os.WriteFile(filepath.Join(dir, "config", "rolecall", "config.toml"), []byte("audit_log = false\n"), 0o600)
	p := startServe(t, serveEnv(dir, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus")), port)

	if out, err := p.verb("list", "--json"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json: %v %q", err, out)
	}
	out, err := p.verb("load", "--profile", "dev")
	if err == nil || !strings.Contains(out, "no AWS config at") {
		t.Errorf("load of an unknown profile: %v %q", err, out)
	}
	if out, err := p.verb("serve", "--port", freePort(t)); err == nil || !strings.Contains(out, "already running") {
		t.Errorf("second serve: %v %q", err, out)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "rolecall", "control.sock")); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	if out, err := p.verb("list"); err == nil || !strings.Contains(out, "not running") {
		t.Errorf("list after shutdown: %v %q", err, out)
	}
	if strings.Contains(p.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", p.logs.String())
	}
	if !strings.Contains(p.logs.String(), "no OS keyring: secrets are kept in memory") {
		t.Errorf("no warning about the missing keyring:\n%s", p.logs.String())
	}
}

// TestServeKeepsTokenInKeyring: the bearer token is made once and kept in
// the Secret Service, so it survives a kill -9 and a lost token file.
func TestServeKeepsTokenInKeyring(t *testing.T) {
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	env := append(os.Environ(), s.Env...)
	env = append(env, "ROLECALL_SOCKET=")
	p := startServe(t, env, freePort(t))
	tokenFile := filepath.Join(s.Dir, "state", "rolecall", "token")
	first, err := os.ReadFile(tokenFile)
	if err != nil || len(first) != 43 {
		t.Fatalf("token file: %q, %v", first, err)
	}
	if strings.Contains(p.logs.String(), "no usable OS keyring") {
		t.Fatalf("the Secret Service was not used:\n%s", p.logs.String())
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	os.Remove(tokenFile)
	os.Remove(filepath.Join(s.Dir, "run", "rolecall", "control.sock"))

	p = startServe(t, env, freePort(t))
	again, err := os.ReadFile(tokenFile)
	if err != nil || string(again) != string(first) {
		t.Fatalf("after kill -9 and a lost token file: token %q, want %q (%v)", again, first, err)
	}
	if code := getStatus(t, p.url+"/", string(first)); code != 404 {
		t.Errorf("GET / with the kept token = %d, want 404 (authorised, nothing loaded)", code)
	}
}

func getStatus(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAutostartVerb(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, tt := range []struct {
		arg, want string
	}{{"status", "does not start"}, {"on", "rolecall starts at login"}, {"status", "rolecall starts at login"}, {"off", "does not start"}} {
		out, errOut, rc := cliRun(t, "autostart", tt.arg)
		if rc != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("autostart %s: %d %q %q", tt.arg, rc, out, errOut)
		}
	}
	if _, _, rc := cliRun(t, "autostart", "maybe"); rc != 2 {
		t.Errorf("autostart maybe: exit %d, want 2", rc)
	}
}

// TestNoTrayHostFallsBackToServe: `rolecall` with no tray host says so in
// one line and serves headless.
func TestNoTrayHostFallsBackToServe(t *testing.T) {
	desktoptest.LinuxOnly(t, "the D-Bus tray host lookup")
	desktoptest.SkipShort(t, "starts rolecall")
	dir := t.TempDir()
	port := freePort(t)
	os.MkdirAll(filepath.Join(dir, "config", "rolecall"), 0o700)
	os.WriteFile(filepath.Join(dir, "config", "rolecall", "config.toml"), []byte("port = "+port+"\n"), 0o600)
	bin := builtBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = serveEnv(dir, "DBUS_SESSION_BUS_ADDRESS=")
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz:\n%s", logs.String())
		}
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	if !strings.HasPrefix(first, "rolecall: no D-Bus session bus") || !strings.Contains(first, "running headless as `rolecall serve`") {
		t.Errorf("first line %q", first)
	}
}

// TestPinnedSlotsComeBackAtStart: slots pinned in the settings are loaded
// at start, in the background.
func TestPinnedSlotsComeBackAtStart(t *testing.T) {
	e, _ := testEngine(t, func(st *settings.Settings) { st.Pinned = []string{"prod", "missing-one"} })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s, ok := e.Lookup("prod")
		if ok && s.State == "ok" && s.Pinned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pinned slot prod not restored: %+v", s)
		}
	}
	// A pinned profile that fails stays, in error, and is retried.
	s, ok := e.Lookup("missing-one")
	for deadline := time.Now().Add(5 * time.Second); ok && s.State != "error" && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		s, ok = e.Lookup("missing-one")
	}
	if !ok || s.State != "error" || s.NextRefresh.IsZero() {
		t.Errorf("failing pinned slot: %+v", s)
	}
}
