// Package fakeclock is the tests' clock: it moves only when the test moves
// it, and its timers fire only then, so time-driven code is tested without
// sleeping. It imports nothing from the module (creds' own tests use it), and
// it is never linked into rolecall.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a settable clock with timers. One mutex guards the time and the
// timers, so a timer never fires at a time the clock does not show.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*Timer // not yet fired or stopped, in the order they were made
}

// Timer is a one-shot timer of a Clock. It has the methods of creds.Timer,
// so a creds.Clock over a Clock is a NewTimer that returns it.
type Timer struct {
	clock   *Clock
	c       chan time.Time
	at      time.Time
	stopped bool // fired or stopped
}

// New returns a Clock showing start. start is kept as given: a monotonic
// reading in it stays (time.Now()) or stays absent (time.Date, Round(0)).
func New(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock has been advanced by d.
// A timer for zero or a negative duration has fired when NewTimer returns;
// no other timer fires then (after a Jump, overdue timers wait for the next
// Advance).
func (c *Clock) NewTimer(d time.Duration) *Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &Timer{clock: c, c: make(chan time.Time, 1), at: c.now.Add(d)}
	if d <= 0 {
		t.c <- c.now
		t.stopped = true
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock on by d in one step and then fires every timer
// due at the new time, in the order the timers were made; each receives the
// new time.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !c.now.Before(t.at):
			t.stopped = true
			t.c <- c.now // never blocks: the buffer of one is used once
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

// Jump moves the clock on by d without firing any timer, as a resume from
// suspend moves the wall clock: Go's timers run on the monotonic clock,
// which stood still. Timers that became due fire at the next Advance.
func (c *Clock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Waiters counts the timers not yet fired or stopped: a test waits for it
// to know that the code under test has set its timer.
func (c *Clock) Waiters() int {
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

// C returns the channel the timer's time is sent on when it fires.
func (t *Timer) C() <-chan time.Time { return t.c }

// Stop prevents the timer from firing. It reports whether that stopped it:
// false when it had already fired or been stopped.
func (t *Timer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}
