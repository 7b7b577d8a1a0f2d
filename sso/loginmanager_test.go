package sso

import (
	"context"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeclock"
)

// managerClock is the login harness's clock as a creds.Clock: fakeclock
// cannot import creds, so its NewTimer returns *fakeclock.Timer, and Go has
// no covariant results; this NewTimer returns it as a creds.Timer.
type managerClock struct{ *fakeclock.Clock }

func (c managerClock) NewTimer(d time.Duration) creds.Timer { return c.Clock.NewTimer(d) }

// TestLoginSlotsUnderTheManager: the manager's own scheduler over an hour
// of fake clock, with the default slot and a named slot on one login
// session. Both always hold credentials with at least 12 minutes left, and
// they stay in step: one refresh of the session every 3 minutes, not one
// per slot.
func TestLoginSlotsUnderTheManager(t *testing.T) {
	h := newLoginHarness(t)
	h.cacheFile(loginARN)
	clock := managerClock{h.Clock}
	m := creds.NewManager(creds.Config{Fetcher: h.client, Clock: clock, Rand: func() float64 { return 0.5 }})
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := creds.Profile{Name: "me", Session: loginARN}
	if _, err := m.Load(ctx, creds.DefaultSlot, p); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // the named slot comes later
	if _, err := m.Load(ctx, "me", p); err != nil {
		t.Fatal(err)
	}
	start := h.Now()
	for h.Now().Sub(start) < time.Hour {
		clock.Advance(30 * time.Second)
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
			if settled && clock.Waiters() > 0 {
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
