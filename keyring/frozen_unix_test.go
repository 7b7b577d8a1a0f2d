//go:build unix

package keyring

import (
	"testing"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// TestSecretServiceFrozen: gnome-keyring-daemon stops answering (SIGSTOP,
// like a keyring waiting behind a password prompt), then answers again.
// Calls time out with ErrTimeout, nothing falls back to memory, and the
// write that timed out lands afterwards; with New's keyring and Open's.
func TestSecretServiceFrozen(t *testing.T) {
	for _, c := range constructors {
		t.Run(c.name, func(t *testing.T) {
			childTest(t, "frozen", func(t *testing.T) { refusedChild(t, c.open, "rolecall-frozentest", ErrTimeout) },
				(*desktoptest.Session).FreezeKeyring, (*desktoptest.Session).ThawKeyring)
		})
	}
}
