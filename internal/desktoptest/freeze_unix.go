//go:build unix

package desktoptest

import (
	"syscall"
	"testing"
)

// FreezeKeyring stops gnome-keyring-daemon (SIGSTOP): calls to the Secret
// Service get no answer, as behind a password prompt, until ThawKeyring.
func (s *Session) FreezeKeyring(t testing.TB) { s.signalKeyring(t, syscall.SIGSTOP) }

// ThawKeyring lets a frozen gnome-keyring-daemon answer again (SIGCONT).
func (s *Session) ThawKeyring(t testing.TB) { s.signalKeyring(t, syscall.SIGCONT) }

func (s *Session) signalKeyring(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if s.keyring == nil {
		t.Fatal("no keyring started: call StartKeyring first")
	}
	if err := s.keyring.Signal(sig); err != nil {
		t.Fatalf("signal gnome-keyring-daemon: %v", err)
	}
	if sig == syscall.SIGSTOP {
		t.Cleanup(func() { s.keyring.Signal(syscall.SIGCONT) })
	}
}
