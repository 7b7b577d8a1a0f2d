package fakeclock

import (
	"testing"
	"time"
)

var start = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// fired returns the time t fired at, and false when it has not fired.
func fired(t *Timer) (time.Time, bool) {
	select {
	case at := <-t.C():
		return at, true
	default:
		return time.Time{}, false
	}
}

// wantWaiters stops the test when c has not n timers waiting.
func wantWaiters(t *testing.T, c *Clock, n int) {
	t.Helper()
	if got := c.Waiters(); got != n {
		t.Fatalf("Waiters = %d, want %d", got, n)
	}
}

// TestTimersFireOnAdvance: a timer fires at the Advance that reaches its
// time, not before, with the clock's new time; a stopped one never fires;
// Waiters counts the timers still to fire.
func TestTimersFireOnAdvance(t *testing.T) {
	c := New(start)
	a, b, stopped := c.NewTimer(time.Minute), c.NewTimer(2*time.Minute), c.NewTimer(time.Minute)
	wantWaiters(t, c, 3)
	if !stopped.Stop() {
		t.Error("Stop of a waiting timer = false, want true")
	}
	if stopped.Stop() {
		t.Error("second Stop = true, want false")
	}
	wantWaiters(t, c, 2)

	c.Advance(59 * time.Second)
	if _, ok := fired(a); ok {
		t.Fatal("the 1-minute timer fired at 59 s")
	}
	c.Advance(time.Second)
	if at, ok := fired(a); !ok || !at.Equal(start.Add(time.Minute)) {
		t.Fatalf("the 1-minute timer at 1 min: fired %v at %v, want at %v", ok, at, start.Add(time.Minute))
	}
	if _, ok := fired(stopped); ok {
		t.Error("a stopped timer fired")
	}
	if _, ok := fired(b); ok {
		t.Error("the 2-minute timer fired at 1 min")
	}
	if a.Stop() {
		t.Error("Stop of a fired timer = true, want false")
	}
	wantWaiters(t, c, 1)

	// One Advance past its time: it fires with the clock's new time.
	c.Advance(5 * time.Minute)
	if at, ok := fired(b); !ok || !at.Equal(start.Add(6*time.Minute)) {
		t.Fatalf("the 2-minute timer after 6 min: fired %v at %v, want at %v", ok, at, start.Add(6*time.Minute))
	}
	if _, ok := fired(a); ok {
		t.Error("a timer fired twice")
	}
	wantWaiters(t, c, 0)
	if got := c.Now(); !got.Equal(start.Add(6 * time.Minute)) {
		t.Errorf("Now = %v, want %v", got, start.Add(6*time.Minute))
	}
}

// TestDueTimerFiresAtOnce: a timer for zero or a negative duration has
// fired when NewTimer returns, and is no waiter.
func TestDueTimerFiresAtOnce(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		c := New(start)
		tm := c.NewTimer(d)
		if at, ok := fired(tm); !ok || !at.Equal(start) {
			t.Errorf("NewTimer(%v): fired %v at %v, want at %v", d, ok, at, start)
		}
		wantWaiters(t, c, 0)
	}
}

// TestJumpFiresNothing: Jump moves the time but fires no timer, not even
// at the next NewTimer; the next Advance fires those that became due.
func TestJumpFiresNothing(t *testing.T) {
	c := New(start)
	tm := c.NewTimer(time.Hour)
	c.Jump(2 * time.Hour)
	if got := c.Now(); !got.Equal(start.Add(2 * time.Hour)) {
		t.Errorf("Now after Jump = %v, want %v", got, start.Add(2*time.Hour))
	}
	later := c.NewTimer(time.Minute)
	if _, ok := fired(tm); ok {
		t.Fatal("a Jump fired a timer")
	}
	wantWaiters(t, c, 2)
	c.Advance(0)
	if at, ok := fired(tm); !ok || !at.Equal(start.Add(2*time.Hour)) {
		t.Errorf("the overdue timer at the next Advance: fired %v at %v", ok, at)
	}
	if _, ok := fired(later); ok {
		t.Error("the timer set after the Jump fired before its time")
	}
}
