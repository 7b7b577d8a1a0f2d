//go:build !linux

package nettest

import "testing"

// HostLock is a no-op where no test changes machine-wide network state
// (New skips them all but on Linux).
func HostLock(testing.TB, string) {}
