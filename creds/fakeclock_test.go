package creds

import (
	"time"

	"github.com/rolecall/rolecall/internal/fakeclock"
)

// fakeClock is the tests' clock as a Clock: fakeclock cannot import creds
// (these tests are package creds), so its NewTimer returns *fakeclock.Timer,
// and Go has no covariant results; this NewTimer returns it as a Timer.
type fakeClock struct{ *fakeclock.Clock }

func newFakeClock() *fakeClock {
	return &fakeClock{fakeclock.New(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))}
}

func (c *fakeClock) NewTimer(d time.Duration) Timer { return c.Clock.NewTimer(d) }
