package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/settings"
)

func TestListenerTokenSurvivesWithoutKeyring(t *testing.T) {
	gokeyring.MockInitWithError(errors.New("exec: \"dbus-launch\": executable file not found in $PATH"))
	defer gokeyring.MockInit()
	file := filepath.Join(t.TempDir(), "state", "token")
	first, err := (&listenerSecrets{keyring: keyring.New("t", nil), tokenFile: file}).load(func() (string, error) { return "first-token-aaaaaaaaaaaaaaaa", nil })
	if err != nil {
		t.Fatal(err)
	}
	// A restart with no keyring reuses the private token file.
	again, err := (&listenerSecrets{keyring: keyring.New("t", nil), tokenFile: file}).load(func() (string, error) { return "second-token-bbbbbbbbbbbbbbb", nil })
	if err != nil || again != first {
		t.Fatalf("after restart token = %q, %v; want %q", again, err, first)
	}
	b, _ := os.ReadFile(file)
	if string(b) != first {
		t.Errorf("token file = %q (no trailing newline wanted)", b)
	}
	// Mode 0600 on Unix; on Windows an ACL for the current user only.
	if err := settings.CheckPrivateFile(file); err != nil {
		t.Errorf("token file: %v", err)
	}
	// A token file others can read is not trusted.
	os.Remove(file)
	os.WriteFile(file, b, 0o644)
	fresh, _ := (&listenerSecrets{keyring: keyring.New("t", nil), tokenFile: file}).load(func() (string, error) { return "third-token-cccccccccccccccc", nil })
	if fresh != "third-token-cccccccccccccccc" {
		t.Errorf("token from a world-readable file reused: %q", fresh)
	}
}
