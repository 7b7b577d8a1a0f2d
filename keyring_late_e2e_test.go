//go:build unix

package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// TestKeyringAppearsAfterStart: rolecall starts before the Secret Service
// (a login session whose gnome-keyring comes up late, or restarts). It
// serves meanwhile with its bearer token in memory and in the 0600 token
// file; once gnome-keyring is on the bus, the token kept in memory is
// saved there (secret-tool reads it back): no memory-only mode for the
// life of the process.
func TestKeyringAppearsAfterStart(t *testing.T) {
	s := desktoptest.Start(t) // a session bus, no Secret Service yet
	secretTool, err := exec.LookPath("secret-tool")
	if err != nil {
		skipOrFail(t, "secret-tool is missing: sudo apt-get install libsecret-tools")
	}
	lookup := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, secretTool, "lookup", "service", "rolecall", "username", "listener-token")
		c.Env = append(os.Environ(), s.Env...)
		out, _ := c.Output()
		return string(out)
	}
	dir := t.TempDir()
	port := freePort(t)
	p := startServe(t, serveEnv(dir, s.Env...), port)
	token, err := os.ReadFile(filepath.Join(s.Dir, "state", "rolecall", "token"))
	if err != nil || len(token) == 0 {
		t.Fatalf("token file: %v\n%s", err, p.logs.String())
	}
	if !strings.Contains(p.logs.String(), "no OS keyring") {
		t.Errorf("the missing keyring was not reported:\n%s", p.logs.String())
	}

	s.StartKeyring(t)
	var got string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if got = lookup(); got == string(token) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bearer token never reached the keyring that appeared (secret-tool: %q)\n%s", got, p.logs.String())
		}
	}
	req, _ := http.NewRequest("GET", p.url+"/", nil)
	req.Header.Set("Authorization", string(token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		t.Errorf("GET / with the token after the keyring appeared: %d", resp.StatusCode)
	}
	if !strings.Contains(p.logs.String(), "the OS keyring is there now") {
		t.Errorf("the keyring's arrival was not reported:\n%s", p.logs.String())
	}
}
