package creds

import "time"

// Clock is the Manager's source of time. Tests use a fake one so that refresh
// logic runs without sleeping.
type Clock interface {
	// Now returns the wall-clock time. It must carry no monotonic reading:
	// expiry is a wall-clock matter, and the monotonic clock stops while a
	// laptop sleeps.
	Now() time.Time
	// NewTimer returns a timer that fires after d.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of time.Timer the Manager uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now without its monotonic reading.
func (SystemClock) Now() time.Time { return time.Now().Round(0) }

// NewTimer wraps time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
