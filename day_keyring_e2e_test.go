//go:build unix

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/desktoptest"
)

// More of the laptop's day, across processes: the login keyring locked
// when rolecall starts, gnome-keyring stopped during a token rotation.

// secretTool runs secret-tool on the rig's bus (bounded): the keyring as
// another program sees it.
func (r *dayRig) secretTool(stdin string, args ...string) (string, error) {
	r.t.Helper()
	st, err := exec.LookPath("secret-tool")
	if err != nil {
		skipOrFail(r.t, "secret-tool is missing: sudo apt-get install libsecret-tools")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, st, args...)
	c.Env = append(os.Environ(), r.s.Env...)
	c.Stdin = strings.NewReader(stdin)
	out, err := c.Output()
	return string(out), err
}

// secret is rolecall's keyring entry named user ("" when there is none).
func (r *dayRig) secret(user string) string {
	r.t.Helper()
	out, _ := r.secretTool("", "lookup", "service", "rolecall", "username", user)
	return out
}

// storedToken is the session's token in the keyring.
func (r *dayRig) storedToken() map[string]any {
	r.t.Helper()
	var tok map[string]any
	if err := json.Unmarshal([]byte(r.secret("sso-token:corp")), &tok); err != nil || tok["accessToken"] == "" {
		r.t.Fatalf("no sso token for corp in the keyring: %v", err)
	}
	return tok
}

// TestDayKeyringLockedAtStart: the login keyring is locked when rolecall
// starts (autostart before the user typed the password) and unlocked 20 s
// later. No login is asked for, nothing falls back to memory, no secret
// is lost, and the pinned slots serve once it is unlocked.
func TestDayKeyringLockedAtStart(t *testing.T) {
	r := newDayRig(t)
	r.firstRun()
	r.storedToken()
	listenerToken := r.token()
	calls := r.fake.AllCalls()

	r.s.LockKeyring(t)
	p := startServe(t, r.env, r.port)
	// Locked for 20 s: the slots wait (never login-required), no browser.
	locked := time.Now()
	for time.Since(locked) < 20*time.Second {
		for _, s := range r.slots(p) {
			if s.State == string(creds.StateLoginRequired) {
				t.Fatalf("keyring locked: slot %s says login-required (%s)\n%s", s.Slot, s.Error, p.logs.String())
			}
		}
		if code := r.status("/slot/dev"); code == 200 {
			t.Fatalf("slot dev served while the keyring holding its session is locked\n%s", p.logs.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !strings.Contains(p.logs.String(), "locked") {
		t.Errorf("the locked keyring was not reported:\n%s", p.logs.String())
	}
	callsLocked := r.fake.AllCalls() - calls

	// Unlocked: every slot serves by its next scheduled retry (nothing
	// tells rolecall that the keyring is back; the backoff finds it).
	var step time.Duration
	now := time.Now()
	for _, s := range r.slots(p) {
		if at, err := time.Parse(time.RFC3339, s.NextRefresh); err == nil {
			step = max(step, at.Sub(now))
		}
	}
	r.s.UnlockKeyring(t)
	took, err := r.waitServing(p, pinnedPaths, step+10*time.Second)
	if err != nil {
		t.Fatalf("after the unlock (next retry in %v): %v\n%s", step, err, p.logs.String())
	}
	t.Logf("keyring locked 20 s at start: %d calls to the fake while locked; unlock to default + 3 pinned slots serving: %v (last retry was due in %v); %d calls to the fake in all",
		callsLocked, took.Round(time.Millisecond), step.Round(time.Millisecond), r.fake.AllCalls()-calls)

	if n := r.browserOpens(); n != 1 {
		t.Errorf("browser opened %d times in all, want 1 (the first run's)", n)
	}
	if n := r.fake.Calls("StartDeviceAuthorization"); n != 1 {
		t.Errorf("device authorizations = %d, want 1: the locked keyring cost a login", n)
	}
	if logs := p.logs.String(); strings.Contains(logs, "in memory only") {
		t.Errorf("fell back to memory:\n%s", logs)
	}
	if r.token() != listenerToken || r.secret("listener-token") != listenerToken {
		t.Errorf("the listener's bearer token changed across a locked start")
	}
	// The session's token is still in the keyring (or its renewal).
	if after := r.storedToken(); after["refreshToken"] == "" {
		t.Errorf("sso token in the keyring has no refresh token: %v", after)
	}
}

// TestDayKeyringStoppedDuringRotation: gnome-keyring is stopped (SIGSTOP)
// while `rolecall token --rotate` runs. The rotation fails cleanly or
// completes; after SIGCONT and a restart, the token in force is the one
// the user was told, in the listener, the token file and the keyring.
func TestDayKeyringStoppedDuringRotation(t *testing.T) {
	desktoptest.LinuxOnly(t, "stops gnome-keyring with SIGSTOP")
	r := newDayRig(t)
	p := startServe(t, r.env, r.port)
	old := r.token()
	if old == "" || r.secret("listener-token") != old {
		t.Fatalf("bearer token: file %q, keyring %q", old, r.secret("listener-token"))
	}

	r.s.FreezeKeyring(t)
	start := time.Now()
	out, err := boundedVerb(p, "token", "--rotate")
	rotateTook := time.Since(start)
	r.s.ThawKeyring(t)
	want := old
	if err == nil {
		want = strings.TrimSpace(out)
	} else if strings.Count(out, "not rotated") != 1 {
		t.Errorf("a failed rotation must say (once) that the token was not rotated: %v %q", err, out)
	}
	t.Logf("rotate with gnome-keyring stopped: %v after %v: %q", err, rotateTook.Round(time.Millisecond), strings.TrimSpace(out))
	if got := r.token(); got != want {
		t.Errorf("token file right after the rotation = %q, the user was told %q", got, want)
	}

	// A restart (stop, start): the token in force is the one the user was told.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := waitExit(p.cmd, 30*time.Second); err != nil {
		t.Fatalf("serve did not stop: %v\n%s", err, p.logs.String())
	}
	p = startServe(t, r.env, r.port)
	if got := r.token(); got != want {
		t.Errorf("token file after the restart = %q, want %q", got, want)
	}
	if got := r.secret("listener-token"); got != want {
		t.Errorf("keyring after the restart = %q, want %q", got, want)
	}
	if code := r.status("/"); code == http.StatusUnauthorized || code == http.StatusForbidden || code == 0 {
		t.Errorf("GET / with the token the user was told = %d", code)
	}
	if logs := p.logs.String(); strings.Contains(logs, "in memory only") {
		t.Errorf("fell back to memory:\n%s", logs)
	}
}

// waitExit waits for cmd to end, killing it after within.
func waitExit(cmd *exec.Cmd, within time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if _, ok := err.(*exec.ExitError); ok {
			return nil
		}
		return err
	case <-time.After(within):
		cmd.Process.Kill()
		<-done
		return context.DeadlineExceeded
	}
}
