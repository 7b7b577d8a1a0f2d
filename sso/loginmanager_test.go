package sso

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// managerClock is a creds.Clock over the login harness's time: timers
// fire when the test advances it.
type managerClock struct {
	h      *loginHarness
	mu     sync.Mutex
	timers []*managerTimer
}

type managerTimer struct {
	c       chan time.Time
	at      time.Time
	stopped bool
	mu      *sync.Mutex
}

func (c *managerClock) Now() time.Time { return c.h.Now() }

func (c *managerClock) NewTimer(d time.Duration) creds.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &managerTimer{c: make(chan time.Time, 1), at: c.h.Now().Add(d), mu: &c.mu}
	c.timers = append(c.timers, t)
	c.fireLocked()
	return t
}

// waiters counts the timers not yet fired or stopped.
func (c *managerClock) waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

func (c *managerClock) advance(d time.Duration) {
	c.h.Advance(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fireLocked()
}

func (c *managerClock) fireLocked() {
	now := c.h.Now()
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !now.Before(t.at):
			t.stopped = true
			t.c <- now
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

func (t *managerTimer) C() <-chan time.Time { return t.c }

func (t *managerTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// TestLoginSlotsUnderTheManager: the manager's own scheduler over an hour
// of fake clock, with the default slot and a named slot on one login
// session. Both always hold credentials with at least 12 minutes left, and
// they stay in step: one refresh of the session every 3 minutes, not one
// per slot.
func TestLoginSlotsUnderTheManager(t *testing.T) {
	h := newLoginHarness(t)
	h.cacheFile(loginARN)
	clock := &managerClock{h: h}
	m := creds.NewManager(creds.Config{Fetcher: h.client, Clock: clock, Rand: func() float64 { return 0.5 }})
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := creds.Profile{Name: "me", Session: loginARN}
	if _, err := m.Load(ctx, creds.DefaultSlot, p); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Minute) // the named slot comes later
	if _, err := m.Load(ctx, "me", p); err != nil {
		t.Fatal(err)
	}
	start := h.Now()
	for h.Now().Sub(start) < time.Hour {
		clock.advance(30 * time.Second)
		// Wait (bounded by ctx) for the scheduler to act on the new time.
		for {
			st := m.Snapshot()
			now := h.Now()
			settled := st.Default != nil && len(st.Named) == 1
			for _, s := range append([]creds.Slot{*st.Default}, st.Named...) {
				if s.Creds.Expiration.Sub(now) < 12*time.Minute {
					t.Fatalf("at +%v slot %q holds credentials with %v left", now.Sub(start), s.Name, s.Creds.Expiration.Sub(now))
				}
				// Settled: nothing is due any more.
				if s.State != creds.StateOK || !now.Before(creds.RefreshAt(s.Creds, creds.DefaultRefreshWindow)) {
					settled = false
				}
			}
			// ... and the scheduler sleeps on a timer set from this
			// time (set before, it would wake late).
			if settled && clock.waiters() > 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("at +%v the slots hold %+v and %+v", now.Sub(start), *st.Default, st.Named)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// 20 refreshes in the hour, and at most one more for the minute the
	// named slot was loaded after the default one.
	if n := h.fake.Calls("CreateOAuth2Token.refresh_token.ok"); n < 20 || n > 21 {
		t.Errorf("%d refreshes of the session in an hour; want 20 (every 3 minutes, shared by both slots)", n)
	}
}
