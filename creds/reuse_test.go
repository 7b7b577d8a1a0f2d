package creds

import (
	"context"
	"testing"
	"time"
)

// TestSwitchBackReusesCredentials: switching the default slot back to a
// role loaded minutes ago serves its credentials at once, with no fetch,
// while the refresh rules would not fetch them yet; after that it fetches.
func TestSwitchBackReusesCredentials(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	m := newTestManager(t, f, nil)
	ctx := context.Background()
	dev := Profile{Name: "dev", Session: "corp"}
	prod := Profile{Name: "prod", Session: "corp"}
	load := func(p Profile) Slot {
		t.Helper()
		s, err := m.Load(ctx, DefaultSlot, p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := load(dev)
	load(prod)
	clk.Advance(10 * time.Minute)
	back := load(dev)
	if n := f.calls.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2: switching back must reuse dev's credentials", n)
	}
	if back.Creds.AccessKeyID != first.Creds.AccessKeyID || back.Profile != dev {
		t.Errorf("switched back to %+v, want dev's first credentials", back)
	}
	// A named slot of a role the default slot holds starts from them too.
	if s, err := m.Load(ctx, "dev", dev); err != nil || s.Creds.AccessKeyID != first.Creds.AccessKeyID {
		t.Errorf("named slot dev = %+v, %v", s, err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("fetches = %d after the named slot, want 2", n)
	}

	// Past their refresh time (40 of 60 minutes gone), they are fetched.
	load(prod)
	clk.Advance(31 * time.Minute)
	m.Unload("dev")
	before := f.calls.Load()
	if s := load(dev); s.Creds.AccessKeyID == first.Creds.AccessKeyID {
		t.Error("credentials due for refresh were reused")
	}
	if n := f.calls.Load(); n <= before {
		t.Errorf("fetches = %d, want more than %d", n, before)
	}
}

// TestSignOutForgetsKeptCredentials: after a logout, a role of that
// session is fetched again (and so asks for a login), never reused.
func TestSignOutForgetsKeptCredentials(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	m := newTestManager(t, f, nil)
	ctx := context.Background()
	dev := Profile{Name: "dev", Session: "corp"}
	if _, err := m.Load(ctx, DefaultSlot, dev); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load(ctx, DefaultSlot, Profile{Name: "other", Session: "team"}); err != nil {
		t.Fatal(err)
	}
	m.SignOut("corp")
	if _, err := m.Load(ctx, DefaultSlot, dev); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("fetches = %d, want 3: a signed-out role must be fetched again", n)
	}
}
