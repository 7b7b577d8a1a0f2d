package creds

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gatedFetcher holds each fetch until its profile's gate is opened.
func gatedFetcher(f *fakeFetcher, gates map[string]chan struct{}) {
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		if g, ok := gates[p.Name]; ok {
			select {
			case <-g:
			case <-ctx.Done():
				return Credentials{}, ctx.Err()
			}
		}
		return f.mint(n, p, time.Hour), nil
	}
}

// TestLastRequestWins: two loads into one slot, the first asked finishing
// last: the slot holds the one asked last, and the first says it was
// overtaken.
func TestLastRequestWins(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	gates := map[string]chan struct{}{"slow": make(chan struct{}), "fast": make(chan struct{})}
	gatedFetcher(f, gates)
	m := newTestManager(t, f, nil)
	ctx := context.Background()

	first := make(chan error, 1)
	go func() {
		_, err := m.Load(ctx, DefaultSlot, Profile{Name: "slow"})
		first <- err
	}()
	f.waitCall(t) // the first load is asked (and fetching) before the second
	second := make(chan error, 1)
	go func() {
		_, err := m.Load(ctx, DefaultSlot, Profile{Name: "fast"})
		second <- err
	}()
	f.waitCall(t)
	close(gates["fast"])
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	close(gates["slow"])
	err := <-first
	if !errors.Is(err, ErrSuperseded) {
		t.Errorf("first load: %v, want ErrSuperseded", err)
	}
	if s, _ := m.Lookup(DefaultSlot); s.Profile.Name != "fast" {
		t.Errorf("default slot holds %q, want fast (asked last)", s.Profile.Name)
	}
	if a := Advice(DefaultSlot, err); !strings.Contains(a, "later request") {
		t.Errorf("advice %q", a)
	}
	// What the overtaken load fetched is kept: switching to it costs no fetch.
	before := f.calls.Load()
	if _, err := m.Load(ctx, DefaultSlot, Profile{Name: "slow"}); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != before {
		t.Errorf("fetches = %d, want %d: the overtaken load's credentials were not kept", n, before)
	}
}

// TestUnloadWinsOverLoadInFlight: an unload asked while a load of the
// slot runs is the last request: the load lands nowhere.
func TestUnloadWinsOverLoadInFlight(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	gates := map[string]chan struct{}{"dev": make(chan struct{})}
	gatedFetcher(f, gates)
	m := newTestManager(t, f, nil)
	done := make(chan error, 1)
	go func() {
		_, err := m.Load(context.Background(), "dev", Profile{Name: "dev"})
		done <- err
	}()
	f.waitCall(t)
	if err := m.Unload("dev"); err != nil {
		t.Fatalf("unload while loading: %v", err)
	}
	close(gates["dev"])
	if err := <-done; !errors.Is(err, ErrSuperseded) {
		t.Errorf("load: %v, want ErrSuperseded", err)
	}
	if s, ok := m.Lookup("dev"); ok {
		t.Errorf("slot dev loaded after its unload: %+v", s)
	}
}

// TestUnloadIsFinal: a named slot the user unloaded is not loaded on
// demand (404 with the reason) until the user loads it, also in a new
// manager given the names Unloaded returned.
func TestUnloadIsFinal(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	known := newKnown()
	m := newTestManager(t, f, func(c *Config) { c.Resolver = known })
	ctx := context.Background()
	if _, _, err := m.Get(ctx, "prod"); err != nil {
		t.Fatalf("on demand: %v", err)
	}
	if err := m.Unload("prod"); err != nil {
		t.Fatal(err)
	}
	fetches := f.calls.Load()
	_, _, err := m.Get(ctx, "prod")
	if !errors.Is(err, ErrUnloaded) || !errors.Is(err, ErrNoSuchSlot) {
		t.Fatalf("request after unload: %v, want ErrUnloaded (a 404)", err)
	}
	if a := Advice("prod", err); !strings.Contains(a, "unloaded") || !strings.Contains(a, "rolecall load --profile prod --slot") {
		t.Errorf("advice %q", a)
	}
	if n := f.calls.Load(); n != fetches {
		t.Errorf("fetches = %d, want %d", n, fetches)
	}
	if got := m.Unloaded(); !slices.Equal(got, []string{"prod"}) {
		t.Errorf("Unloaded = %q", got)
	}

	// Across a restart.
	m2 := newTestManager(t, f, func(c *Config) { c.Resolver = known; c.Unloaded = m.Unloaded() })
	if _, _, err := m2.Get(ctx, "prod"); !errors.Is(err, ErrUnloaded) {
		t.Fatalf("after a restart: %v, want ErrUnloaded", err)
	}
	// The user's load lifts it.
	if _, err := m2.Load(ctx, "prod", Profile{Name: "prod", Session: "corp"}); err != nil {
		t.Fatal(err)
	}
	if got := m2.Unloaded(); len(got) != 0 {
		t.Errorf("Unloaded after a load = %q", got)
	}
	m2.Unload("prod")
	m2.Load(ctx, "prod", Profile{Name: "prod", Session: "corp"})
	if _, _, err := m2.Get(ctx, "prod"); err != nil {
		t.Errorf("after the user loaded it again: %v", err)
	}
	// Without slots on demand the reason is given too.
	m3 := newTestManager(t, f, func(c *Config) { c.Unloaded = []string{"prod"} })
	if _, _, err := m3.Get(ctx, "prod"); !errors.Is(err, ErrUnloaded) {
		t.Errorf("without on demand: %v, want ErrUnloaded", err)
	}
}

// TestOutageRefreshesInTheFirstMinute: a slot whose refreshes fail (an
// Identity Center outage) is fetched at most 5 times in the outage's
// first minute, with the shortest jitter: the manager's backoff is the one
// layer that retries (sso makes one call per fetch), so a slot costs at
// most 5 GetRoleCredentials calls in that minute (the bound is 8).
func TestOutageRefreshesInTheFirstMinute(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	f.fn = func(context.Context, int, Profile) (Credentials, error) {
		return Credentials{}, errors.New("get role credentials: 503 Service Unavailable")
	}
	m := newTestManager(t, f, func(c *Config) { c.Rand = func() float64 { return 0 } })
	start := clk.Now()
	m.Restore("dev", Profile{Name: "dev"}, false)
	for {
		// Settled after a failure: a retry is scheduled, later than now
		// (the snapshot of the failure before, still published while
		// the next fetch starts, holds a retry time that has come).
		s := waitState(t, m, "dev", func(s Slot) bool { return s.State == StateError && s.NextRefresh.After(clk.Now()) })
		if !s.NextRefresh.Before(start.Add(time.Minute)) {
			break
		}
		n := f.calls.Load()
		clk.Advance(s.NextRefresh.Sub(clk.Now()))
		waitState(t, m, "dev", func(Slot) bool { return f.calls.Load() > n })
	}
	if n := f.calls.Load(); n > 5 {
		t.Errorf("%d fetches in the first minute of an outage, want at most 5", n)
	}
}

// TestBackgroundFetchesAreBounded: 200 slots restored at once (pins at
// start) run at most Concurrency fetches at a time; the others wait their
// turn off the CPU, and a Close does not run them.
func TestBackgroundFetchesAreBounded(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	release := make(chan struct{})
	var running, peak atomic.Int32
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		r := running.Add(1)
		defer running.Add(-1)
		for {
			old := peak.Load()
			if r <= old || peak.CompareAndSwap(old, r) {
				break
			}
		}
		select {
		case <-release:
		case <-ctx.Done():
			return Credentials{}, ctx.Err()
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, func(c *Config) { c.Concurrency = 4 })
	for i := range 200 {
		m.Restore(fmt.Sprintf("pin%d", i), Profile{Name: fmt.Sprintf("pin%d", i)}, true)
	}
	for range 4 {
		f.waitCall(t)
	}
	m.Close()
	if n := f.calls.Load(); n != 4 {
		t.Errorf("%d fetches ran by the Close, want the 4 running", n)
	}
	close(release)
	if p := peak.Load(); p > 4 {
		t.Errorf("%d fetches at once, want at most 4", p)
	}
}

// TestCloseEndsLoadsInFlight: a load asked over the control channel (its
// own context, which nothing cancels) ends when the manager closes: a
// stop with slots being loaded waited for their fetch timeout (67 s).
func TestCloseEndsLoadsInFlight(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		<-ctx.Done()
		return Credentials{}, ctx.Err()
	}
	m := newTestManager(t, f, func(c *Config) { c.FetchTimeout = time.Hour })
	done := make(chan error, 1)
	go func() {
		_, err := m.Load(context.Background(), "dev", Profile{Name: "dev"})
		done <- err
	}()
	f.waitCall(t)
	m.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("load at close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second): // guards a hang; measures nothing
		t.Fatal("a load in flight holds on after Close")
	}
}

// TestPausedFetchRetriesWhenThePauseEnds: a fetch that did not ask
// upstream because the session's shared pause is in force (creds.Paused)
// is retried right after the pause, and does not grow the slot's backoff:
// once the service answers again the slot serves within about a second of
// the pause's end (before, three paused attempts pushed its retry 40 s out
// and the day-in-the-life offline boot served late).
func TestPausedFetchRetriesWhenThePauseEnds(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	var calls atomic.Int32
	f.fn = func(_ context.Context, n int, p Profile) (Credentials, error) {
		if calls.Add(1) <= 3 { // paused three times, then the service answers
			return Credentials{}, &Paused{Until: clk.Now().Add(20 * time.Second), Err: errors.New("get role credentials: 503 Service Unavailable")}
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, func(c *Config) { c.Rand = func() float64 { return 0 } })
	m.Restore("dev", Profile{Name: "dev"}, false)
	for range 3 {
		before := clk.Now()
		s := waitState(t, m, "dev", func(s Slot) bool { return s.State == StateError && s.NextRefresh.After(before) })
		if want := before.Add(20*time.Second + 500*time.Millisecond); !s.NextRefresh.Equal(want) {
			t.Fatalf("paused fetch: next refresh %v after, want %v (the pause's end)", s.NextRefresh.Sub(before), want.Sub(before))
		}
		clk.Advance(s.NextRefresh.Sub(clk.Now()))
	}
	waitState(t, m, "dev", func(s Slot) bool { return s.State == StateOK })
}
