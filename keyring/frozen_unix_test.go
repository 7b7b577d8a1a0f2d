//go:build unix

package keyring

import (
	"os"
	"testing"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// TestSecretServiceFrozen: gnome-keyring-daemon stops answering (SIGSTOP,
// like a keyring waiting behind a password prompt), then answers again.
// Calls time out with ErrTimeout, nothing falls back to memory, and the
// write that timed out lands afterwards.
func TestSecretServiceFrozen(t *testing.T) {
	if os.Getenv("ROLECALL_KEYRING_CHILD") == "frozen" {
		refusedChild(t, New, "rolecall-frozentest", ErrTimeout)
		return
	}
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	keyringDialogue(t, s, "TestSecretServiceFrozen", "frozen", s.FreezeKeyring, s.ThawKeyring)
}
