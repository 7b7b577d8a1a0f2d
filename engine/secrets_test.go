package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/private"
)

func TestListenerTokenSurvivesWithoutKeyring(t *testing.T) {
	gokeyring.MockInitWithError(errors.New("exec: \"dbus-launch\": executable file not found in $PATH"))
	t.Cleanup(gokeyring.MockInit) // after the keyrings close (cleanups run last first)
	file := filepath.Join(t.TempDir(), "state", "token")
	kr := func() *keyring.Keyring {
		k := keyring.New("t", nil)
		t.Cleanup(k.Close) // its probe loop ends before the deferred MockInit
		return k
	}
	first, err := (&secrets{keyring: kr(), tokenFile: file}).load(func() (string, error) { return "first-token-aaaaaaaaaaaaaaaa", nil })
	if err != nil {
		t.Fatal(err)
	}
	// A restart with no keyring reuses the private token file.
	again, err := (&secrets{keyring: kr(), tokenFile: file}).load(func() (string, error) { return "second-token-bbbbbbbbbbbbbbb", nil })
	if err != nil || again != first {
		t.Fatalf("after restart token = %q, %v; want %q", again, err, first)
	}
	b, _ := os.ReadFile(file)
	if string(b) != first {
		t.Errorf("token file = %q (no trailing newline wanted)", b)
	}
	// Mode 0600 on Unix; on Windows an ACL for the current user only.
	if err := private.Check(file); err != nil {
		t.Errorf("token file: %v", err)
	}
	// A token file others can read is not trusted.
	os.Remove(file)
	os.WriteFile(file, b, 0o644)
	fresh, _ := (&secrets{keyring: kr(), tokenFile: file}).load(func() (string, error) { return "third-token-cccccccccccccccc", nil })
	if fresh != "third-token-cccccccccccccccc" {
		t.Errorf("token from a world-readable file reused: %q", fresh)
	}
}

// A rotation whose token file cannot be written changes nothing: the
// keyring keeps the old token, so the next start serves the token the user
// was last told (not the one "not rotated" hid).
func TestRotationIsAllOrNothing(t *testing.T) {
	gokeyring.MockInit()
	dir := filepath.Join(t.TempDir(), "state")
	file := filepath.Join(dir, "token")
	s := &secrets{keyring: keyring.New("rotate-test", nil), tokenFile: file}
	old, err := s.load(func() (string, error) { return "old-token-aaaaaaaaaaaaaaaaaaa", nil })
	if err != nil {
		t.Fatal(err)
	}
	// The state dir cannot be written (a file where the directory was; a
	// chmod would not stop root).
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := s.RotateToken(); err == nil {
		t.Fatalf("rotation with an unwritable state dir succeeded: %q", tok)
	}
	if s.Token() != old {
		t.Errorf("token in force = %q, want the old one", s.Token())
	}
	os.Remove(dir)
	os.Rename(dir+".away", dir)
	next := &secrets{keyring: keyring.New("rotate-test", nil), tokenFile: file}
	got, err := next.load(func() (string, error) { return "never-used-bbbbbbbbbbbbbbbbbb", nil })
	if err != nil || got != old {
		t.Errorf("next start serves %q, %v; want the old token", got, err)
	}
	// A rotation that works changes both.
	tok, err := next.RotateToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	kept, _ := next.keyring.Get(keyListenerToken)
	if string(b) != tok || kept != tok {
		t.Errorf("after rotation: file %q, keyring %q, told %q", b, kept, tok)
	}
}

// A keyring locked at start: the token file carries the token, and the
// start does not fail.
func TestLockedKeyringAtStartUsesTokenFile(t *testing.T) {
	gokeyring.MockInit()
	file := filepath.Join(t.TempDir(), "state", "token")
	first, err := (&secrets{keyring: keyring.New("locked-test", nil), tokenFile: file}).load(func() (string, error) { return "first-token-aaaaaaaaaaaaaaaa", nil })
	if err != nil {
		t.Fatal(err)
	}
	gokeyring.MockInitWithError(errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'"))
	defer gokeyring.MockInit()
	kr := keyring.New("locked-test", nil)
	defer kr.Close()
	again, err := (&secrets{keyring: kr, tokenFile: file}).load(func() (string, error) { return "second-token-bbbbbbbbbbbbbbb", nil })
	if err != nil || again != first {
		t.Fatalf("start with a locked keyring: %q, %v; want %q", again, err, first)
	}
	if !kr.Available() {
		t.Error("a locked keyring was replaced by memory")
	}
}
