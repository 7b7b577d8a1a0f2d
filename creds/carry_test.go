package creds

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// mapCarrier is a Carrier over a map, counting what it is asked; gate,
// when set, holds each answer until the test reads from it.
type mapCarrier struct {
	mu    sync.Mutex
	held  map[string]carriedPair
	asked []string
	gate  chan struct{}
}

type carriedPair struct {
	p Profile
	c Credentials
}

func (mc *mapCarrier) Carried(_ context.Context, name string) (Profile, Credentials, bool) {
	if mc.gate != nil {
		mc.gate <- struct{}{}
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	mc.asked = append(mc.asked, name)
	h, ok := mc.held[name]
	return h.p, h.c, ok
}

func (mc *mapCarrier) askedFor() []string {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return append([]string(nil), mc.asked...)
}

// TestRestoreServesCarriedCredentials: a restored slot whose name
// resolves to the profile the last run held serves the credentials that
// run held, without a fetch, and is refreshed on the usual schedule;
// credentials of a profile defined otherwise now, expired ones and those
// of a slot loaded by the user are not used.
func TestRestoreServesCarriedCredentials(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	dev := Profile{Name: "dev", AccountID: "111122223333", RoleName: "Admin", Session: "corp", Definition: "sso corp 111122223333 Admin"}
	prod := Profile{Name: "prod", AccountID: "444455556666", RoleName: "Admin", Session: "corp", Definition: "sso corp 444455556666 Admin"}
	old := f.mint(900, dev, time.Hour) // issued now, valid one hour
	old.Issued = clk.Now().Add(-10 * time.Minute)
	mc := &mapCarrier{held: map[string]carriedPair{
		"dev":  {dev, old},
		"prod": {Profile{Name: "prod", AccountID: "444455556666", RoleName: "ReadOnly", Session: "corp", Definition: "sso corp 444455556666 ReadOnly"}, f.mint(901, prod, time.Hour)},
		"gone": {Profile{Name: "gone", Session: "corp"}, f.mint(902, Profile{Name: "gone"}, -time.Minute)},
	}}
	defined := map[string]Profile{"dev": dev, "prod": prod, "gone": {Name: "gone", Session: "corp"}}
	m := newTestManager(t, f, func(c *Config) {
		c.Carrier = mc
		c.Names = ResolverFunc(func(_ context.Context, name string) (Profile, error) { return defined[name], nil })
	})
	m.Restore(DefaultSlot, Profile{Name: "dev"}, false)
	s := waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateOK })
	if s.Creds != old || s.Profile != dev {
		t.Fatalf("restored default slot = %+v, want the carried credentials of %+v", s, dev)
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("%d fetches for a slot with carried credentials, want none", n)
	}
	// Refreshed when due, like credentials fetched by this run.
	if want := RefreshAt(old, DefaultRefreshWindow); !s.NextRefresh.Equal(want) {
		t.Errorf("next refresh %v, want %v", s.NextRefresh, want)
	}
	clk.Advance(s.NextRefresh.Sub(clk.Now()))
	f.waitCall(t)
	s = waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateOK && s.Creds.AccessKeyID != old.AccessKeyID })
	if got := mc.askedFor(); len(got) != 1 {
		t.Errorf("carrier asked for %v, want dev once (a refresh fetches)", got)
	}

	// "prod" is defined otherwise now (ReadOnly then, Admin now): fetched.
	m.Restore("prod", Profile{Name: "prod"}, true)
	if p := f.waitCall(t); p != prod {
		t.Errorf("fetched %+v, want %+v", p, prod)
	}
	waitState(t, m, "prod", func(s Slot) bool {
		return s.State == StateOK && s.Creds.RoleARN == "arn:aws:iam::111122223333:role/prod"
	})
	// "gone" holds expired credentials: fetched.
	m.Restore("gone", Profile{Name: "gone"}, true)
	f.waitCall(t)
	waitState(t, m, "gone", func(s Slot) bool { return s.State == StateOK })

	// A slot the user loads is fetched, whatever was carried.
	mc.mu.Lock()
	mc.held["dev"] = carriedPair{dev, f.mint(903, dev, time.Hour)}
	mc.mu.Unlock()
	asked := len(mc.askedFor())
	if _, err := m.Load(context.Background(), "other", dev); err != nil {
		t.Fatal(err)
	}
	if len(mc.askedFor()) != asked {
		t.Errorf("a load asked the carrier")
	}
}

// TestCarriedCredentialsOfSignedOutSession: credentials the last run held
// for a session signed out since the start are not served, also when the
// sign-out comes while the carrier is being read: the slot needs a login.
func TestCarriedCredentialsOfSignedOutSession(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	f.fn = func(context.Context, int, Profile) (Credentials, error) {
		return Credentials{}, errors.New("fetched")
	}
	dev := Profile{Name: "dev", Session: "corp", Definition: "sso corp 111122223333 Admin"}
	mc := &mapCarrier{held: map[string]carriedPair{"dev": {dev, f.mint(1, dev, time.Hour)}}, gate: make(chan struct{})}
	m := newTestManager(t, f, func(c *Config) {
		c.Carrier = mc
		c.Names = ResolverFunc(func(context.Context, string) (Profile, error) { return dev, nil })
	})
	m.Restore(DefaultSlot, Profile{Name: "dev"}, true)
	// The carrier is being asked; the session is signed out meanwhile.
	select {
	case <-mc.gate:
	case <-time.After(10 * time.Second):
		t.Fatal("the carrier was not asked")
	}
	if unloaded := m.SignOut("corp"); len(unloaded) != 0 {
		t.Fatalf("signing out unloaded %v: the restored slot is not resolved yet", unloaded)
	}
	s := waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State != StateRefreshing })
	if s.State != StateLoginRequired || s.Creds.AccessKeyID != "" {
		t.Fatalf("slot = %+v, want login-required without the carried credentials", s)
	}
	if f.calls.Load() != 0 {
		t.Errorf("fetched: the carried credentials were refused because of the sign-out, not looked past")
	}

	// Restored again in this run: the carrier is asked, its answer refused.
	go func() { <-mc.gate }()
	m.Restore("again", Profile{Name: "dev"}, true)
	s = waitState(t, m, "again", func(s Slot) bool { return s.State != StateRefreshing })
	if s.State != StateLoginRequired || s.Creds.AccessKeyID != "" {
		t.Fatalf("restored after the sign-out: %+v, want login-required", s)
	}
}
