package creds

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRestoreResolvesAtFetchAndRetries: a restored slot known by name only
// (offline boot) stays a slot, in error with the reason, and the manager
// resolves it again at its next retry.
func TestRestoreResolvesAtFetchAndRetries(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	var offline atomic.Bool
	offline.Store(true)
	resolves := make(chan string, 16)
	r := ResolverFunc(func(ctx context.Context, name string) (Profile, error) {
		resolves <- name
		if offline.Load() {
			return Profile{}, errors.New("list accounts: dial tcp: connection refused")
		}
		return Profile{Name: name, AccountID: "111122223333", RoleName: "Admin", Session: "corp"}, nil
	})
	m := newTestManager(t, f, func(c *Config) { c.Names = r })
	m.Restore("dev/Admin", Profile{Name: "dev/Admin"}, true)
	<-resolves
	s := waitState(t, m, "dev/Admin", func(s Slot) bool { return s.State == StateError })
	if s.Err == "" || s.NextRefresh.IsZero() || !s.Pinned || s.Permanent {
		t.Fatalf("unresolved pin = %+v: want error with the reason and a retry", s)
	}
	if f.calls.Load() != 0 {
		t.Fatal("fetched a profile that was not resolved")
	}
	offline.Store(false)
	clk.Advance(s.NextRefresh.Sub(clk.Now()))
	<-resolves
	if p := f.waitCall(t); p.Session != "corp" || p.AccountID != "111122223333" {
		t.Errorf("fetched %+v, want the resolved profile", p)
	}
	s = waitState(t, m, "dev/Admin", func(s Slot) bool { return s.State == StateOK })
	if s.Profile.Session != "corp" {
		t.Errorf("slot profile = %+v, want the resolved one", s.Profile)
	}
	// Resolved once: the next refresh fetches without resolving.
	clk.Advance(40 * time.Minute)
	f.waitCall(t)
	waitState(t, m, "dev/Admin", func(s Slot) bool { return s.State == StateOK && s.Creds.AccessKeyID == "ASIAEXAMPLE000000002" })
	if len(resolves) != 0 {
		t.Errorf("resolved again after success")
	}
}

// TestPermanentErrorIsNotRetried: a profile gone from the config is not
// fetched again on requests or by the scheduler, answers at once, and is
// retried when the config or session changes (RefreshWaiting).
func TestPermanentErrorIsNotRetried(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	var gone atomic.Bool
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if gone.Load() {
			return Credentials{}, fmt.Errorf("no profile %s in ~/.aws/config: %w", p.Name, ErrPermanent)
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, nil)
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	gone.Store(true)
	clk.Advance(40 * time.Minute) // due: refresh fails for good
	f.waitCall(t)
	s := waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateError })
	if !s.Permanent || !s.NextRefresh.IsZero() {
		t.Fatalf("slot = %+v, want permanent error, nothing scheduled", s)
	}
	// Still valid: served.
	if _, _, err := m.Get(context.Background(), DefaultSlot); err != nil {
		t.Fatalf("valid credentials refused: %v", err)
	}
	for range 10 {
		clk.Advance(10 * time.Minute)
	}
	for range 20 {
		_, _, err := m.Get(context.Background(), DefaultSlot)
		if !errors.Is(err, ErrPermanent) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrPermanent (not a 503)", err)
		}
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2: a permanent failure is not retried", n)
	}
	if msg := Advice(DefaultSlot, fmt.Errorf("x: %w", ErrPermanent)); !strings.Contains(msg, "rolecall roles") {
		t.Errorf("advice %q does not say what to do", msg)
	}
	gone.Store(false)
	m.RefreshWaiting(func(Profile) bool { return true })
	f.waitCall(t)
	s = waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateOK })
	if s.Permanent {
		t.Errorf("slot still permanent after a good fetch: %+v", s)
	}
}

// TestRefreshSessionOnlyWhatWaits: a login refreshes that session's slots
// that wait for it, not healthy ones, not other sessions'.
func TestRefreshSessionOnlyWhatWaits(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	var out atomic.Bool
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if out.Load() && p.Name != "healthy" {
			return Credentials{}, fmt.Errorf("signed out: %w", ErrLoginRequired)
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, nil)
	out.Store(true)
	for _, p := range []Profile{{Name: "healthy", Session: "corp"}, {Name: "waiting", Session: "corp"}, {Name: "other", Session: "lab"}} {
		m.Restore(p.Name, p, false)
		f.waitCall(t)
	}
	waitState(t, m, "waiting", func(s Slot) bool { return s.State == StateLoginRequired })
	waitState(t, m, "other", func(s Slot) bool { return s.State == StateLoginRequired })
	waitState(t, m, "healthy", func(s Slot) bool { return s.State == StateOK })
	out.Store(false)
	m.RefreshSession("corp")
	if p := f.waitCall(t); p.Name != "waiting" {
		t.Errorf("fetched %q, want waiting", p.Name)
	}
	waitState(t, m, "waiting", func(s Slot) bool { return s.State == StateOK })
	if n := f.calls.Load(); n != 4 {
		t.Errorf("fetches = %d, want 4: only the waiting slot of corp is fetched", n)
	}
	if s, _ := m.Lookup("other"); s.State != StateLoginRequired {
		t.Errorf("other session's slot = %+v", s)
	}
}

// TestSignOutKeepsPinnedSlots: a logout empties the session's slots; the
// pinned ones stay, login-required, and come back with the next login.
func TestSignOutKeepsPinnedSlots(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	m := newTestManager(t, f, nil)
	m.Restore("pinned", Profile{Name: "pinned", Session: "corp"}, true)
	f.waitCall(t)
	for _, name := range []string{DefaultSlot, "loose"} {
		if _, err := m.Load(context.Background(), name, Profile{Name: "x" + name, Session: "corp"}); err != nil {
			t.Fatal(err)
		}
		f.waitCall(t)
	}
	m.Load(context.Background(), "lab", Profile{Name: "lab", Session: "lab"})
	f.waitCall(t)
	waitState(t, m, "pinned", func(s Slot) bool { return s.State == StateOK })
	got := m.SignOut("corp")
	if fmt.Sprint(got) != "[ loose]" {
		t.Errorf("unloaded %q, want the default slot and loose", got)
	}
	s, ok := m.Lookup("pinned")
	if !ok || s.State != StateLoginRequired || s.Creds.AccessKeyID != "" {
		t.Fatalf("pinned slot after sign-out = %+v", s)
	}
	if _, _, err := m.Get(context.Background(), "pinned"); !errors.Is(err, ErrLoginRequired) {
		t.Errorf("Get after sign-out: %v", err)
	}
	if _, ok := m.Lookup("lab"); !ok {
		t.Error("another session's slot was unloaded")
	}
	m.RefreshSession("corp")
	f.waitCall(t)
	waitState(t, m, "pinned", func(s Slot) bool { return s.State == StateOK })
}

// TestWallClockJumpNeverServesStale: after a resume the wall clock is two
// hours on and no timer has fired. The first request gets fresh
// credentials (or ErrUnavailable, a 503, once the request wait is over),
// never the expired ones.
func TestWallClockJumpNeverServesStale(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	block := make(chan struct{})
	var slow atomic.Bool
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if slow.Load() {
			select {
			case <-block:
			case <-ctx.Done():
				return Credentials{}, ctx.Err()
			}
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, nil)
	for _, name := range []string{DefaultSlot, "a", "b"} {
		if _, err := m.Load(context.Background(), name, Profile{Name: "p" + name}); err != nil {
			t.Fatal(err)
		}
		f.waitCall(t)
	}
	clk.Jump(2 * time.Hour)
	now := clk.Now()
	// Every slot is asked (and fetched) now: none is left due for the
	// scheduler to fetch, unblocked, while the slow upstream below is set.
	for _, name := range []string{DefaultSlot, "a", "b"} {
		c, _, err := m.Get(context.Background(), name)
		if err != nil {
			t.Fatalf("first request after the jump: %v", err)
		}
		if !c.Expiration.After(now) {
			t.Fatalf("served stale credentials expiring %v at %v", c.Expiration, now)
		}
	}
	// Upstream slow: a 503 (ErrUnavailable) once the request wait is
	// over on the manager's clock; never the old credentials.
	slow.Store(true)
	clk.Jump(2 * time.Hour)
	done := make(chan error, 1)
	go func() {
		c, _, err := m.Get(context.Background(), "b")
		if err == nil {
			err = fmt.Errorf("served credentials expiring %v", c.Expiration)
		}
		done <- err
	}()
	for {
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			close(block)
			return
		default:
			clk.Advance(DefaultRequestWait / 4)
			runtime.Gosched()
		}
	}
}

// TestRestoredLoginNamesTheSession: a restored slot whose name cannot be
// resolved until a session is signed in (NeedsLogin) tells
// OnLoginRequired of that session, so that the login can start on its
// own, although the slot's profile names none yet.
func TestRestoredLoginNamesTheSession(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	asked := make(chan Profile, 1)
	m := newTestManager(t, f, func(c *Config) {
		c.Names = ResolverFunc(func(_ context.Context, name string) (Profile, error) {
			return Profile{}, &NeedsLogin{Session: "corp", Err: fmt.Errorf("no profile named %s until corp is signed in: %w", name, ErrLoginRequired)}
		})
		c.OnLoginRequired = func(p Profile) { asked <- p }
	})
	m.Restore(DefaultSlot, Profile{Name: "dev/Admin"}, false)
	select {
	case p := <-asked:
		if p.Session != "corp" || p.Name != "dev/Admin" {
			t.Errorf("login asked for %+v, want dev/Admin of corp", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no login asked for")
	}
	if s, _ := m.Lookup(DefaultSlot); s.State != StateLoginRequired || s.Profile.Session != "" {
		t.Errorf("slot = %+v, want login-required, its name still unresolved", s)
	}
}

// jumpAfterClock is the fake clock whose wall time jumps by jump at the
// first reading after skip more readings, once armed: it puts a resume
// from suspend exactly between two readings of the code under test. It
// counts the timers made.
type jumpAfterClock struct {
	*fakeClock
	skip   atomic.Int32
	jump   atomic.Int64
	timers atomic.Int32
}

func (c *jumpAfterClock) NewTimer(d time.Duration) Timer {
	defer c.timers.Add(1)
	return c.fakeClock.NewTimer(d)
}

func (c *jumpAfterClock) Now() time.Time {
	if c.jump.Load() != 0 && c.skip.Add(-1) < 0 {
		c.Jump(time.Duration(c.jump.Swap(0)))
	}
	return c.fakeClock.Now()
}

// TestJoinedFetchExpiredByAJump: credentials a request waited for were
// valid when the fetch landed, and the wall clock jumped past them before
// the request was answered (a resume in between): ErrUnavailable, never
// the expired credentials.
func TestJoinedFetchExpiredByAJump(t *testing.T) {
	clk := &jumpAfterClock{fakeClock: newFakeClock()}
	f := newFakeFetcher(clk.fakeClock)
	release := make(chan struct{})
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if n == 2 {
			select {
			case <-release:
			case <-ctx.Done():
				return Credentials{}, ctx.Err()
			}
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, func(c *Config) { c.Clock = clk })
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	// The scheduler has set its timer again after the load woke it, and
	// waits: nothing but the request below reads the clock from now on.
	waitFor(t, "the scheduler's timer after the load", func() bool { return clk.timers.Load() >= 2 && clk.Waiters() == 1 })
	clk.Jump(2 * time.Hour) // expired, and no timer fired
	type got struct {
		c   Credentials
		err error
	}
	answer := make(chan got, 1)
	go func() {
		c, _, err := m.Get(context.Background(), DefaultSlot)
		answer <- got{c, err}
	}()
	f.waitCall(t) // fetch 2, the request's
	waitFor(t, "the request waiting for its fetch", func() bool { return clk.Waiters() == 2 })
	// Landing: the manager reads the clock once (the fetch is valid
	// then); the next reading is two hours on.
	clk.skip.Store(1)
	clk.jump.Store(int64(2 * time.Hour))
	close(release)
	a := <-answer
	if !errors.Is(a.err, ErrUnavailable) {
		t.Fatalf("Get = %s until %v, %v at %v; want ErrUnavailable", a.c.MaskedKeyID(), a.c.Expiration, a.err, clk.fakeClock.Now())
	}
}
