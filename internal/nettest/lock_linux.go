package nettest

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// HostLock holds an exclusive lock named name on this machine until the
// test ends: tests that change machine-wide state (iptables rules with
// rolecall's own mark, its record in /run) wait for one another, also
// across test binaries and worktrees run at the same time. It gives up
// after two minutes, failing (no test waits for ever).
func HostLock(t testing.TB, name string) {
	t.Helper()
	f, err := os.OpenFile("/run/"+name+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
	deadline := time.Now().Add(2 * time.Minute)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("another test has held /run/%s.lock for two minutes", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
