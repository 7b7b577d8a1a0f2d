package creds

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFetcher hands out credentials issued at the fake clock's time, with a
// lifetime of one hour unless fn says otherwise.
type fakeFetcher struct {
	clock *fakeClock
	calls atomic.Int32
	// fn, when set, answers call n (1-based) instead of the default.
	fn     func(ctx context.Context, n int, p Profile) (Credentials, error)
	called chan Profile
}

func newFakeFetcher(c *fakeClock) *fakeFetcher {
	return &fakeFetcher{clock: c, called: make(chan Profile, 4096)}
}

func (f *fakeFetcher) Fetch(ctx context.Context, p Profile) (Credentials, error) {
	n := int(f.calls.Add(1))
	f.called <- p
	if f.fn != nil {
		return f.fn(ctx, n, p)
	}
	return f.mint(n, p, time.Hour), nil
}

func (f *fakeFetcher) mint(n int, p Profile, life time.Duration) Credentials {
	now := f.clock.Now()
	return Credentials{
		AccessKeyID:     fmt.Sprintf("ASIAEXAMPLE%09d", n),
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SessionToken:    "FQoGZXIvYXdzEXAMPLE",
		Issued:          now,
		Expiration:      now.Add(life),
		RoleARN:         "arn:aws:iam::111122223333:role/" + p.Name,
		AccountID:       "111122223333",
	}
}

// waitCall waits for the next fetch; the timeout only keeps a broken test
// from hanging, it measures nothing.
func (f *fakeFetcher) waitCall(t *testing.T) Profile {
	t.Helper()
	select {
	case p := <-f.called:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no fetch happened")
		return Profile{}
	}
}

func newTestManager(t *testing.T, f *fakeFetcher, mod func(*Config)) *Manager {
	t.Helper()
	cfg := Config{Fetcher: f, Clock: f.clock, Rand: func() float64 { return 0.5 }}
	if mod != nil {
		mod(&cfg)
	}
	m := NewManager(cfg)
	t.Cleanup(func() { m.Close() })
	return m
}

// waitFor polls cond with Gosched, never a sleep; the deadline only keeps
// a broken test from hanging, it measures nothing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// waitState polls the snapshot until cond holds; Gosched, never a sleep.
func waitState(t *testing.T, m *Manager, name string, cond func(Slot) bool) Slot {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, ok := m.Lookup(name)
		if ok && cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %q never reached the wanted state; last: %+v", name, s)
		}
		runtime.Gosched()
	}
}

func TestRefreshAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		life   time.Duration
		window time.Duration
		want   time.Duration // after issue
	}{
		{"one hour, default window", time.Hour, 20 * time.Minute, 40 * time.Minute},
		{"one hour, small window", time.Hour, 5 * time.Minute, 55 * time.Minute},
		{"fifteen minutes: lifetime minus MinAge wins, 12 minutes served", 15 * time.Minute, 20 * time.Minute, 3 * time.Minute},
		{"fifteen minutes, small window", 15 * time.Minute, 5 * time.Minute, 10 * time.Minute},
		{"five minutes: after MinAge", 5 * time.Minute, 20 * time.Minute, 3 * time.Minute},
		{"twelve hours", 12 * time.Hour, 20 * time.Minute, 12*time.Hour - 20*time.Minute},
		{"shorter than a minute: at expiry", 30 * time.Second, 20 * time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Credentials{Issued: t0, Expiration: t0.Add(tt.life)}
			if got := RefreshAt(c, tt.window).Sub(t0); got != tt.want {
				t.Errorf("RefreshAt = issue+%v, want issue+%v", got, tt.want)
			}
		})
	}
}

func TestLoadAndGet(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	m := newTestManager(t, f, nil)

	if _, _, err := m.Get(context.Background(), DefaultSlot); !errors.Is(err, ErrNothingLoaded) {
		t.Fatalf("Get on empty default slot: err = %v, want ErrNothingLoaded", err)
	}
	if _, _, err := m.Get(context.Background(), "prod"); !errors.Is(err, ErrNoSuchSlot) {
		t.Fatalf("Get on unknown slot: err = %v, want ErrNoSuchSlot", err)
	}
	s, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != StateOK || s.Profile.Name != "dev" {
		t.Fatalf("loaded slot = %+v", s)
	}
	if want := clk.Now().Add(40 * time.Minute); !s.NextRefresh.Equal(want) {
		t.Errorf("NextRefresh = %v, want %v", s.NextRefresh, want)
	}
	for range 100 {
		c, _, err := m.Get(context.Background(), DefaultSlot)
		if err != nil || c.AccessKeyID != "ASIAEXAMPLE000000001" {
			t.Fatalf("Get = %q, %v", c.AccessKeyID, err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1: Get must answer from memory", n)
	}
}

func TestFailedLoadLeavesSlotUntouched(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	f.fn = func(_ context.Context, n int, p Profile) (Credentials, error) {
		if p.Name == "broken" {
			return Credentials{}, errors.New("no such profile")
		}
		if p.Name == "empty" {
			return Credentials{Expiration: clk.Now().Add(time.Hour)}, nil
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, nil)
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"broken", "empty"} {
		if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: name}); err == nil {
			t.Fatalf("Load(%s) succeeded", name)
		}
	}
	if s, _ := m.Lookup(DefaultSlot); s.Profile.Name != "dev" || s.State != StateOK {
		t.Fatalf("after failed loads the default slot is %+v, want dev/ok", s)
	}
}

func TestSchedulerRefreshesBeforeExpiry(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	m := newTestManager(t, f, nil)
	if _, err := m.Load(context.Background(), "prod", Profile{Name: "prod"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	clk.Advance(40 * time.Minute)
	f.waitCall(t)
	s := waitState(t, m, "prod", func(s Slot) bool { return s.Creds.AccessKeyID == "ASIAEXAMPLE000000002" })
	if s.State != StateOK {
		t.Errorf("state = %s, want ok", s.State)
	}
	if left := s.Creds.Expiration.Sub(clk.Now()); left != time.Hour {
		t.Errorf("new credentials have %v left, want 1h", left)
	}
}

// A laptop that sleeps past the expiry: the first request after resume
// finds expired credentials. 500 of them at once cause one fetch.
func TestConcurrentRequestsOnExpiredSlotFetchOnce(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	release := make(chan struct{})
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if n > 1 {
			<-release
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, nil)
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	clk.Advance(2 * time.Hour)

	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := m.Get(context.Background(), DefaultSlot)
			if err == nil && c.AccessKeyID != "ASIAEXAMPLE000000002" {
				err = fmt.Errorf("got key %s", c.AccessKeyID)
			}
			errs <- err
		}()
	}
	f.waitCall(t)
	// Every request waits on the one fetch (each holds a RequestWait timer).
	for clk.Waiters() < n {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.calls.Load(); got != 2 {
		t.Errorf("fetches = %d, want 2 (the load and one refresh)", got)
	}
}

func TestExpiredRequestWaitIsBounded(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	release := make(chan struct{})
	defer close(release)
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if n > 1 {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return Credentials{}, errors.New("too slow")
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, nil)
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	clk.Advance(2 * time.Hour)
	done := make(chan error, 1)
	go func() {
		_, _, err := m.Get(context.Background(), DefaultSlot)
		done <- err
	}()
	f.waitCall(t)
	// The request's timer may not exist yet: move the clock on until the
	// request gives up. The fetch itself never returns.
	for {
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable after the request wait", err)
			}
			return
		default:
			clk.Advance(DefaultRequestWait)
			runtime.Gosched()
		}
	}
}

func TestFailedRefreshKeepsServingAndBacksOff(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if n == 2 || n == 3 {
			return Credentials{}, errors.New("portal: 500 internal error")
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, nil)
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	clk.Advance(40 * time.Minute)
	f.waitCall(t)
	s := waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateError })
	if s.Err == "" {
		t.Error("error state without a reason")
	}
	// Rand is fixed at 0.5, so the jitter factor is exactly 1.
	if want := clk.Now().Add(5 * time.Second); !s.NextRefresh.Equal(want) {
		t.Errorf("first retry at %v, want %v", s.NextRefresh, want)
	}
	c, _, err := m.Get(context.Background(), DefaultSlot)
	if err != nil || c.AccessKeyID != "ASIAEXAMPLE000000001" {
		t.Fatalf("while refresh fails Get = %q, %v; want the old, still valid credentials", c.AccessKeyID, err)
	}
	clk.Advance(5 * time.Second)
	f.waitCall(t)
	s = waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateError && s.NextRefresh.After(clk.Now()) })
	if want := clk.Now().Add(10 * time.Second); !s.NextRefresh.Equal(want) {
		t.Errorf("second retry at %v, want %v (doubled)", s.NextRefresh, want)
	}
	clk.Advance(10 * time.Second)
	f.waitCall(t)
	s = waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateOK })
	if s.Creds.AccessKeyID != "ASIAEXAMPLE000000004" || s.Err != "" {
		t.Errorf("after recovery slot = %+v", s)
	}
}

func TestErrorWithoutCredentialsAnswersAtOnce(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		return Credentials{}, errors.New("connection refused")
	}
	m := newTestManager(t, f, nil)
	m.Restore("ci", Profile{Name: "ci"}, true)
	f.waitCall(t)
	waitState(t, m, "ci", func(s Slot) bool { return s.State == StateError })
	for range 50 {
		if _, _, err := m.Get(context.Background(), "ci"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1: requests during backoff must not hammer upstream", n)
	}
}

func TestLoginRequired(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	var loggedOut atomic.Bool
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if loggedOut.Load() {
			return Credentials{}, fmt.Errorf("sso session %q: %w", "corp", ErrLoginRequired)
		}
		return f.mint(n, p, time.Hour), nil
	}
	prompts := make(chan Profile, 10)
	m := newTestManager(t, f, func(c *Config) { c.OnLoginRequired = func(p Profile) { prompts <- p } })
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	loggedOut.Store(true)
	clk.Advance(40 * time.Minute)
	f.waitCall(t)
	s := waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateLoginRequired })
	if !s.NextRefresh.IsZero() {
		t.Errorf("login-required slot scheduled for %v; it must wait for a login", s.NextRefresh)
	}
	if p := <-prompts; p.Name != "dev" {
		t.Errorf("login prompt for %q", p.Name)
	}
	// Still valid: served.
	if _, _, err := m.Get(context.Background(), DefaultSlot); err != nil {
		t.Fatalf("valid credentials refused: %v", err)
	}
	clk.Advance(time.Hour)
	for range 20 {
		if _, _, err := m.Get(context.Background(), DefaultSlot); !errors.Is(err, ErrLoginRequired) {
			t.Fatalf("expired, login required: err = %v", err)
		}
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2: a login-required slot is not fetched in a loop", n)
	}
	select {
	case p := <-prompts:
		t.Errorf("second login prompt for %q: one per transition", p.Name)
	default:
	}
	loggedOut.Store(false)
	m.RefreshAll()
	f.waitCall(t)
	waitState(t, m, DefaultSlot, func(s Slot) bool { return s.State == StateOK })
}

func TestLoadDuringRefreshDropsStaleResult(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	release := make(chan struct{})
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if n == 2 {
			<-release
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, nil)
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "old"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	clk.Advance(40 * time.Minute)
	if p := f.waitCall(t); p.Name != "old" {
		t.Fatalf("refresh of %q", p.Name)
	}
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "new"}); err != nil {
		t.Fatal(err)
	}
	close(release)
	m.Close() // waits for the stale fetch to finish
	if s, _ := m.Lookup(DefaultSlot); s.Profile.Name != "new" || s.Creds.RoleARN != "arn:aws:iam::111122223333:role/new" {
		t.Fatalf("slot = %+v, want the newly loaded profile", s)
	}
}

func TestUnloadAndPin(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	m := newTestManager(t, f, nil)
	if err := m.Unload("x"); !errors.Is(err, ErrNoSuchSlot) {
		t.Errorf("Unload unknown: %v", err)
	}
	if err := m.Unload(DefaultSlot); !errors.Is(err, ErrNothingLoaded) {
		t.Errorf("Unload empty default: %v", err)
	}
	if err := m.SetPinned("x", true); !errors.Is(err, ErrNoSuchSlot) {
		t.Errorf("SetPinned unknown: %v", err)
	}
	m.Restore("a", Profile{Name: "a"}, true)
	if _, err := m.Load(context.Background(), "b", Profile{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, "a", func(s Slot) bool { return s.State == StateOK })
	if err := m.SetPinned("b", true); err != nil {
		t.Fatal(err)
	}
	st := m.Snapshot()
	if st.Default != nil || len(st.Named) != 2 || st.Named[0].Name != "a" || !st.Named[0].Pinned || !st.Named[1].Pinned {
		t.Fatalf("snapshot = %+v", st)
	}
	if err := m.Unload("a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Get(context.Background(), "a"); !errors.Is(err, ErrNoSuchSlot) {
		t.Errorf("Get after Unload: %v", err)
	}
}

func TestSubscribersNeverBlockTheManager(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	m := newTestManager(t, f, nil)
	events, cancel := m.Subscribe()
	defer cancel()
	_, stop := m.Subscribe() // never read
	defer stop()
	for i := range 50 {
		if _, err := m.Load(context.Background(), fmt.Sprint("s", i), Profile{Name: fmt.Sprint("p", i)}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-events:
	default:
		t.Fatal("no event after 50 loads")
	}
	if n := len(m.Snapshot().Named); n != 50 {
		t.Errorf("named slots = %d, want 50", n)
	}
}

func TestMaskKeyID(t *testing.T) {
	for in, want := range map[string]string{
		"ASIAIOSFODNN7EXAMPLE": "ASIA…MPLE",
		"short":                "…",
		"":                     "…",
	} {
		if got := MaskKeyID(in); got != want {
			t.Errorf("MaskKeyID(%q) = %q, want %q", in, got, want)
		}
	}
}

// jumpingClock is the fake clock advanced by jump inside the next NewTimer,
// before the timer is set: the clock moves between the scheduler's reading
// of it and its timer, as a test's Advance can, or a resume from suspend.
type jumpingClock struct {
	*fakeClock
	jump atomic.Int64
}

func (c *jumpingClock) NewTimer(d time.Duration) Timer {
	if j := c.jump.Swap(0); j != 0 {
		c.Advance(time.Duration(j))
	}
	return c.fakeClock.NewTimer(d)
}

// TestClockJumpWhileArming: a jump of the clock while the scheduler sets
// its timer does not leave a due refresh waiting (the timer would be late
// by the jump; with a fake clock, for ever).
func TestClockJumpWhileArming(t *testing.T) {
	clk := &jumpingClock{fakeClock: newFakeClock()}
	f := newFakeFetcher(clk.fakeClock)
	m := newTestManager(t, f, func(c *Config) { c.Clock = clk })
	waitFor(t, "the scheduler waiting, with nothing to do", func() bool { return clk.Waiters() == 1 })
	// The load wakes the scheduler once; it sets its timer for the new
	// slot's refresh while the clock jumps past it (the refresh is due
	// 20 minutes before the hour's expiry).
	clk.jump.Store(int64(40 * time.Minute))
	if _, err := m.Load(context.Background(), DefaultSlot, Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	f.waitCall(t)
	f.waitCall(t)
	waitState(t, m, DefaultSlot, func(s Slot) bool { return s.Creds.AccessKeyID == "ASIAEXAMPLE000000002" })
}
