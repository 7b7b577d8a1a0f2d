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

	"github.com/rolecall/rolecall/internal/fakeclock"
)

// knownNames resolves the names it holds and counts its calls.
type knownNames struct {
	names map[string]Profile
	calls atomic.Int32
}

func (k *knownNames) ResolveSlot(_ context.Context, name string) (Profile, error) {
	k.calls.Add(1)
	if p, ok := k.names[name]; ok {
		return p, nil
	}
	return Profile{}, fmt.Errorf("%w: no profile %s", ErrNoSuchSlot, name)
}

func newKnown() *knownNames {
	return &knownNames{names: map[string]Profile{"prod": {Name: "prod", Session: "corp"}}}
}

func TestSlotOnDemand(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	known := newKnown()
	m := newTestManager(t, f, func(c *Config) { c.Resolver = known })

	// Many first requests at once: one resolve, one fetch, all served.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, s, err := m.Get(context.Background(), "prod")
			if err == nil && (c.AccessKeyID == "" || s.Name != "prod" || s.Profile.Name != "prod") {
				err = fmt.Errorf("got %+v in %+v", c, s)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
	if st := m.Snapshot(); len(st.Named) != 1 || st.Named[0].Name != "prod" || st.Named[0].Pinned {
		t.Errorf("slots = %+v, want the unpinned named slot prod", st.Named)
	}
	// Loaded now: later requests are served from memory.
	before := known.calls.Load()
	if _, _, err := m.Get(context.Background(), "prod"); err != nil || known.calls.Load() != before {
		t.Errorf("second request: %v, resolves %d -> %d", err, before, known.calls.Load())
	}
}

func TestSlotOnDemandUnknownAndOff(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	m := newTestManager(t, f, func(c *Config) { c.Resolver = newKnown() })
	if _, _, err := m.Get(context.Background(), "nope"); !errors.Is(err, ErrNoSuchSlot) {
		t.Errorf("unknown name: %v, want ErrNoSuchSlot", err)
	}
	if _, _, err := m.Get(context.Background(), DefaultSlot); !errors.Is(err, ErrNothingLoaded) {
		t.Errorf("default slot: %v, want ErrNothingLoaded (never loaded on demand)", err)
	}
	if len(m.Snapshot().Named) != 0 || f.calls.Load() != 0 {
		t.Errorf("an unknown name made a slot or a fetch")
	}
	off := newTestManager(t, f, nil)
	if _, _, err := off.Get(context.Background(), "prod"); !errors.Is(err, ErrNoSuchSlot) {
		t.Errorf("without a resolver: %v, want ErrNoSuchSlot", err)
	}
}

func TestSlotOnDemandSlowLoadAnswersUnavailable(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	release := make(chan struct{})
	f.fn = func(ctx context.Context, n int, p Profile) (Credentials, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return Credentials{}, ctx.Err()
		}
		return f.mint(n, p, time.Hour), nil
	}
	m := newTestManager(t, f, func(c *Config) { c.Resolver = newKnown() })
	done := make(chan error, 1)
	go func() {
		_, _, err := m.Get(context.Background(), "prod")
		done <- err
	}()
	f.waitCall(t)
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("slow first load: %v, want ErrUnavailable (a 503 that clients retry)", err)
			}
			waiting = false
		default:
			clk.Advance(DefaultRequestWait)
			runtime.Gosched()
		}
	}
	// The load goes on without the request; the retry finds the slot.
	close(release)
	waitState(t, m, "prod", func(s Slot) bool { return s.State == StateOK })
	if _, _, err := m.Get(context.Background(), "prod"); err != nil {
		t.Errorf("retry: %v", err)
	}
}

func TestSlotOnDemandLoginRequired(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	f.fn = func(context.Context, int, Profile) (Credentials, error) {
		return Credentials{}, fmt.Errorf("sso session corp: %w", ErrLoginRequired)
	}
	prompted := make(chan Profile, 1)
	m := newTestManager(t, f, func(c *Config) {
		c.Resolver = newKnown()
		c.OnLoginRequired = func(p Profile) { prompted <- p }
	})
	if _, _, err := m.Get(context.Background(), "prod"); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("err = %v, want ErrLoginRequired", err)
	}
	select {
	case p := <-prompted:
		if p.Name != "prod" {
			t.Errorf("login prompted for %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no login prompt")
	}
	if len(m.Snapshot().Named) != 0 {
		t.Error("a slot that could not be loaded was made")
	}
}

func TestSlotOnDemandStopsAtClose(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	f.fn = func(ctx context.Context, _ int, _ Profile) (Credentials, error) {
		<-ctx.Done()
		return Credentials{}, ctx.Err()
	}
	m := newTestManager(t, f, func(c *Config) { c.Resolver = newKnown() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := m.Get(ctx, "prod")
		done <- err
	}()
	f.waitCall(t)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	m.Close() // returns only once the load goroutine ended
	if _, _, err := m.Get(context.Background(), "prod"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkSlotOnDemandFirstRequest is the first request for a slot that
// is not loaded: resolve, fetch (a fake, instant), publish, answer. Every
// iteration asks for a new name, then unloads it.
func BenchmarkSlotOnDemandFirstRequest(b *testing.B) {
	f := newFakeFetcher(&fakeClock{fakeclock.New(time.Now())}) // credentials valid on the real clock
	fetch := FetcherFunc(func(_ context.Context, p Profile) (Credentials, error) { return f.mint(1, p, time.Hour), nil })
	m := NewManager(Config{Fetcher: fetch, Clock: SystemClock{}, Resolver: ResolverFunc(func(_ context.Context, name string) (Profile, error) {
		return Profile{Name: name}, nil
	})})
	defer m.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprint("s", i)
		if _, _, err := m.Get(context.Background(), name); err != nil {
			b.Fatal(err)
		}
		m.Unload(name) // keep the slot count (and the snapshot copies) small
	}
}

// TestGetGrantedWithoutOnDemand: a grant's slot is loaded on its request
// through Names when loading on demand is off; GetSlot of the same name
// stays a 404.
func TestGetGrantedWithoutOnDemand(t *testing.T) {
	clk := newFakeClock()
	f := newFakeFetcher(clk)
	known := newKnown()
	m := newTestManager(t, f, func(c *Config) { c.Names = known })
	ctx := context.Background()
	if _, err := m.GetSlot(ctx, "prod"); !errors.Is(err, ErrNoSuchSlot) {
		t.Fatalf("GetSlot with on-demand off: %v", err)
	}
	s, err := m.GetGranted(ctx, "prod")
	if err != nil || s.Name != "prod" || s.Creds.AccessKeyID == "" {
		t.Fatalf("GetGranted = %+v, %v", s, err)
	}
	if _, ok := m.Lookup("prod"); !ok {
		t.Error("the grant's slot is not loaded after its first request")
	}
	if _, err := m.GetGranted(ctx, "prod"); err != nil || f.calls.Load() != 1 {
		t.Errorf("second request: %v, fetches %d", err, f.calls.Load())
	}
}
