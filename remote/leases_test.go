package remote

import (
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/grants"
)

// clock is the grants' time, moved by the test (in nanoseconds).
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func testLeases(t *testing.T) (*Leases, *grants.Store, *clock) {
	t.Helper()
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC).UnixNano())
	store, err := grants.Open(t.TempDir(), grants.Options{Now: c.now, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return NewLeases(store, slog.New(slog.DiscardHandler)), store, c
}

// state is the state of the grant whose secret is secret.
func state(store *grants.Store, secret string) string {
	_, _, err := store.Check(secret)
	switch {
	case err == nil:
		return "active"
	case errors.Is(err, creds.ErrGrantRevoked):
		return "revoked"
	case errors.Is(err, creds.ErrGrantExpired):
		return "expired"
	}
	return err.Error()
}

func TestLeasesShareAndEnd(t *testing.T) {
	l, store, _ := testLeases(t)
	name, s1, release1, err := l.Acquire("me@devbox", "dev", 0, false)
	if err != nil || name != "ssh-me@devbox" {
		t.Fatalf("%q %v", name, err)
	}
	_, s2, release2, err := l.Acquire("me@devbox", "dev", 0, false)
	if err != nil || s2 != s1 {
		t.Fatalf("the second session got another grant: %v", err)
	}
	release1()
	release1() // once only
	if st := state(store, s1); st != "active" {
		t.Errorf("after one of two sessions: %s", st)
	}
	release2()
	if st := state(store, s1); st != "revoked" {
		t.Errorf("after the last session: %s", st)
	}
	_, s3, release3, err := l.Acquire("me@devbox", "dev", 0, false)
	if err != nil || s3 == s1 {
		t.Fatalf("a new session after the end reused the revoked grant: %v", err)
	}
	release3()
}

func TestLeasesKeep(t *testing.T) {
	l, store, c := testLeases(t)
	_, s1, release, err := l.Acquire("devbox", "dev", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if st := state(store, s1); st != "active" {
		t.Fatalf("kept grant after its session: %s", st)
	}
	_, s2, release, err := l.Acquire("devbox", "dev", 0, false)
	if err != nil || s2 != s1 {
		t.Fatalf("the next session did not share the kept grant: %v", err)
	}
	release()
	if st := state(store, s1); st != "active" {
		t.Fatalf("a kept grant ended with a session that did not ask to keep: %s", st)
	}
	c.add(KeepTTL)
	if st := state(store, s1); st != "expired" {
		t.Errorf("kept grant after %v: %s", KeepTTL, st)
	}
	_, s3, release, err := l.Acquire("devbox", "dev", 0, false)
	if err != nil || s3 == s1 {
		t.Fatalf("after expiry: %v, same secret %v", err, s3 == s1)
	}
	release()
}

func TestLeasesRevokedElsewhere(t *testing.T) {
	l, store, _ := testLeases(t)
	_, s1, release1, err := l.Acquire("devbox", "dev", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Revoke("ssh-devbox"); err != nil { // the tray's Revoke
		t.Fatal(err)
	}
	_, s2, release2, err := l.Acquire("devbox", "dev", 0, false)
	if err != nil || s2 == s1 {
		t.Fatalf("a session after the revoke: %v, same secret %v", err, s2 == s1)
	}
	release1() // the old session's end leaves the new grant alone
	if st := state(store, s2); st != "active" {
		t.Errorf("the new grant after the old session ended: %s", st)
	}
	release2()
	if st := state(store, s2); st != "revoked" {
		t.Errorf("the new grant after its session: %s", st)
	}
}

func TestLeasesOneRolePerDestination(t *testing.T) {
	l, store, _ := testLeases(t)
	_, s1, release, err := l.Acquire("devbox", "dev", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	var p *creds.Problem
	if _, _, _, err := l.Acquire("devbox", "prod", 0, false); !errors.As(err, &p) || p.Text != creds.SSHOtherRole {
		t.Errorf("another role while connected: %v", err)
	}
	release()
	_, s2, release, err := l.Acquire("devbox", "prod", 0, false)
	if err != nil || s2 == s1 {
		t.Fatalf("another role after the end: %v", err)
	}
	if g, _, _ := store.Check(s2); g.Slot != "prod" {
		t.Errorf("grant reads %q", g.Slot)
	}
	release()
}

// TestLeasesReplaceAnEarlierRunsGrant: a grant of the name left by an
// earlier run of rolecall (--keep) has no secret in memory: it is revoked
// and a new one minted.
func TestLeasesReplaceAnEarlierRunsGrant(t *testing.T) {
	l, store, _ := testLeases(t)
	_, old, err := store.Add("ssh-devbox", "dev", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, s, release, err := l.Acquire("devbox", "dev", 0, false)
	if err != nil || s == old {
		t.Fatalf("%v", err)
	}
	if st := state(store, old); st != "revoked" {
		t.Errorf("the earlier grant: %s", st)
	}
	release()
}

func TestGrantName(t *testing.T) {
	long := strings.Repeat("a", 80) + "@box"
	for dest, want := range map[string]string{
		"me@devbox":            "ssh-me@devbox",
		"ssh://me@devbox:2200": "ssh-ssh___me@devbox_2200",
		"dev box":              "ssh-dev_box",
		long:                   ("ssh-" + long)[:64],
	} {
		if got := GrantName(dest); got != want || !grants.ValidName(got) {
			t.Errorf("GrantName(%q) = %q; want %q", dest, got, want)
		}
	}
}
