package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/server"
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

	var slots []server.SlotInfo
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
	if ps := mustCLI(t, "env", "--shell", "powershell"); !strings.Contains(ps, "$Env:AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = '") {
		t.Errorf("env powershell = %q", ps)
	}
	if _, errOut, rc := cliRun(t, "env", "--profile", "nope"); rc != 1 || !strings.Contains(errOut, "rolecall load --profile nope --slot") {
		t.Errorf("env for a missing slot: %d %q", rc, errOut)
	}

	// token: the token file holds it with no trailing newline; rotation
	// changes both and the old token stops working.
	tok := strings.TrimSpace(mustCLI(t, "token"))
	tokenFile := e.secrets.TokenFile
	if b, _ := os.ReadFile(tokenFile); string(b) != tok {
		t.Errorf("token file %q, token %q", b, tok)
	}
	if st, _ := os.Stat(tokenFile); st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", st.Mode().Perm())
	}
	newTok := strings.TrimSpace(mustCLI(t, "token", "--rotate"))
	if newTok == tok || len(newTok) != 43 {
		t.Errorf("rotated token %q", newTok)
	}
	if b, _ := os.ReadFile(tokenFile); string(b) != newTok {
		t.Errorf("token file after rotation %q", b)
	}
	if code := getStatus(t, e.listener.URL(), tok); code != 403 {
		t.Errorf("old token after rotation: %d", code)
	}
	if code := getStatus(t, e.listener.URL(), newTok); code != 200 {
		t.Errorf("new token: %d", code)
	}

	// unload
	mustCLI(t, "unload", "--profile", "123456789012/ReadOnly")
	if _, errOut, rc := cliRun(t, "unload", "--profile", "123456789012/ReadOnly"); rc != 1 || !strings.Contains(errOut, "no slot named") {
		t.Errorf("second unload: %d %q", rc, errOut)
	}
	mustCLI(t, "unload")
	if code := getStatus(t, e.listener.URL(), newTok); code != 404 {
		t.Errorf("after unload: %d", code)
	}

	// tls save / print / delete
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir)
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
	t.Setenv(server.SocketEnv, filepath.Join(t.TempDir(), "none.sock"))
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

// TestServeProcess runs the built binary: serve, answer /healthz, serve the
// verbs, refuse a second instance, and shut down cleanly on SIGTERM.
func TestServeProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rolecall")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	port := freePort(t)
	env := append(os.Environ(),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"ROLECALL_SOCKET=",
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus"),
	)
	os.MkdirAll(filepath.Join(dir, "config", "rolecall"), 0o700)
	os.WriteFile(filepath.Join(dir, "config", "rolecall", "config.toml"), []byte("port = "+port+"\naudit_log = false\n"), 0o600)

	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Stderr = env, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	url := "http://127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz answer:\n%s", logs.String())
		}
	}
	verb := func(args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	if out, err := verb("list", "--json"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json: %v %q", err, out)
	}
	out, err := verb("load", "--profile", "dev")
	if err == nil || !strings.Contains(out, "no profile source is configured") {
		t.Errorf("load without a profile source: %v %q", err, out)
	}
	if out, err := verb("serve", "--port", freePort(t)); err == nil || !strings.Contains(out, "already running") {
		t.Errorf("second serve: %v %q", err, out)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "rolecall", "control.sock")); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
	if out, err := verb("list"); err == nil || !strings.Contains(out, "not running") {
		t.Errorf("list after shutdown: %v %q", err, out)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs.String())
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

func writePair(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
