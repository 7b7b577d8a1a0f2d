package creds

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mapCarrier is a Carrier over a map, counting what it is asked; gate,
// when set, is sent on as each ask starts, whose answer then waits until
// release is closed.
type mapCarrier struct {
	mu      sync.Mutex
	held    map[string]carriedPair
	asked   []string
	gate    chan struct{}
	release chan struct{}
}

type carriedPair struct {
	p Profile
	c Credentials
}

func (mc *mapCarrier) Carried(_ context.Context, name string) (Profile, Credentials, bool) {
	if mc.gate != nil {
		mc.gate <- struct{}{}
		<-mc.release
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
		"prod": {Profile{Name: "prod", AccountID: "444455556666", RoleName: "ReadOnly", Session: "corp", Definition: "sso corp 444455556666 ReadOnly"}, f.mint(901, prod, 3*time.Hour)},
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

	// "prod" is defined otherwise now (ReadOnly then, Admin now): fetched,
	// its carried credentials (valid, not due) never served.
	m.Restore("prod", Profile{Name: "prod"}, true)
	if p := f.waitCall(t); p != prod {
		t.Errorf("fetched %+v, want %+v", p, prod)
	}
	if s := waitState(t, m, "prod", func(s Slot) bool { return s.State == StateOK }); s.Creds.AccessKeyID == "ASIAEXAMPLE000000901" {
		t.Errorf("served the credentials carried for the old definition: %+v", s)
	}
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
// are not served when their session was signed out since they were
// issued: in this run, also while the carrier is being read (the slot is
// fetched instead, and needs a login when the fetch says so), or in an
// earlier run (Config.SignedOut, as SignedOut returned it then).
func TestCarriedCredentialsOfSignedOutSession(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	var signedIn atomic.Bool
	f.fn = func(_ context.Context, n int, p Profile) (Credentials, error) {
		if !signedIn.Load() {
			return Credentials{}, fmt.Errorf("no token for corp: %w", ErrLoginRequired)
		}
		return f.mint(n, p, time.Hour), nil
	}
	dev := Profile{Name: "dev", Session: "corp", Definition: "sso corp 111122223333 Admin"}
	carried := f.mint(900, dev, time.Hour)
	carried.Issued = clk.Now().Add(-time.Minute)
	mc := &mapCarrier{held: map[string]carriedPair{"dev": {dev, carried}}, gate: make(chan struct{}), release: make(chan struct{})}
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
	close(mc.release)
	s := waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State != StateRefreshing })
	if s.State != StateLoginRequired || s.Creds.AccessKeyID != "" || f.calls.Load() != 1 {
		t.Fatalf("slot = %+v after %d fetches, want fetched once instead, login-required", s, f.calls.Load())
	}
	out := m.SignedOut()
	if !out["corp"].Equal(clk.Now()) || len(out) != 1 {
		t.Fatalf("SignedOut = %v, want corp at %v", out, clk.Now())
	}

	// The next run: signed in again since; the entry is still there (its
	// delete did not land). Carried credentials issued before the
	// sign-out are fetched anew; those issued after it are served.
	clk.Advance(time.Minute)
	signedIn.Store(true)
	after := Profile{Name: "after", Session: "corp"}
	later := f.mint(901, after, time.Hour)
	mc2 := &mapCarrier{held: map[string]carriedPair{"dev": {dev, carried}, "after": {after, later}}}
	m2 := newTestManager(t, f, func(c *Config) {
		c.Carrier = mc2
		c.SignedOut = out
		c.Names = ResolverFunc(func(_ context.Context, name string) (Profile, error) {
			if name == "after" {
				return after, nil
			}
			return dev, nil
		})
	})
	calls := f.calls.Load()
	m2.Restore(DefaultSlot, Profile{Name: "dev"}, true)
	s = waitState(t, m2, DefaultSlot, func(s Slot) bool { return s.State == StateOK })
	if s.Creds.AccessKeyID == carried.AccessKeyID || f.calls.Load() != calls+1 {
		t.Errorf("next run served %s after %d fetches: want credentials fetched anew", s.Creds.MaskedKeyID(), f.calls.Load()-calls)
	}
	m2.Restore("after", Profile{Name: "after"}, true)
	if s = waitState(t, m2, "after", func(s Slot) bool { return s.State == StateOK }); s.Creds != later {
		t.Errorf("credentials issued after the sign-out not carried over: %+v", s)
	}
	// Half a day later the sign-out is past every credential's life.
	clk.Advance(13 * time.Hour)
	if got := m2.SignedOut(); len(got) != 0 {
		t.Errorf("SignedOut after 13 h = %v, want none", got)
	}
}
