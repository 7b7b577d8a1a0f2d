package keyring

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// The logic tests use go-keyring's mock; TestSecretService runs the same
// operations against the real gnome-keyring in a child process (the mock
// is process-wide and cannot be undone).

func TestKeyringChunksLargeValues(t *testing.T) {
	gokeyring.MockInit()
	k := New("rolecall-test", nil)
	big := strings.Repeat("0123456789abcdef", 400) // 6400 bytes
	if err := k.Set("big", big); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		part, err := gokeyring.Get("rolecall-test", chunkKey("big", i))
		if err != nil || len(part) > chunkSize {
			t.Errorf("part %d: %d bytes, %v", i, len(part), err)
		}
	}
	if got, err := k.Get("big"); err != nil || got != big {
		t.Fatalf("Get big: %d bytes, %v", len(got), err)
	}
	// Shrinking removes the parts.
	if err := k.Set("big", "small"); err != nil {
		t.Fatal(err)
	}
	if _, err := gokeyring.Get("rolecall-test", chunkKey("big", 1)); !errors.Is(err, gokeyring.ErrNotFound) {
		t.Errorf("stale part left: %v", err)
	}
	if got, _ := k.Get("big"); got != "small" {
		t.Errorf("Get = %q", got)
	}
	if err := k.Delete("big"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("big"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
	if err := k.Delete("never-there"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
}

func TestKeyringFallsBackToMemory(t *testing.T) {
	gokeyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	defer gokeyring.MockInit()
	k := New("rolecall-test", nil)
	if err := k.Set("a", "1"); err != nil {
		t.Fatalf("Set without a keyring: %v", err)
	}
	if k.Available() {
		t.Error("Available after the keyring failed")
	}
	if v, err := k.Get("a"); err != nil || v != "1" {
		t.Errorf("Get from memory = %q, %v", v, err)
	}
	if msg := ErrorMessage(errors.New("The name org.freedesktop.secrets was not provided by any .service files")); !strings.Contains(msg, "gnome-keyring") {
		t.Errorf("message %q does not say what to install", msg)
	}
}

func TestSecretService(t *testing.T) {
	if os.Getenv("ROLECALL_KEYRING_CHILD") == "1" {
		secretServiceChecks(t)
		return
	}
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecretService$", "-test.v")
	cmd.Env = append(append(os.Environ(), s.Env...), "ROLECALL_KEYRING_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSecretService") {
		t.Fatalf("against gnome-keyring: %v\n%s", err, out)
	}
	// The secret is really in gnome-keyring: secret-tool finds it.
	if st, err := exec.LookPath("secret-tool"); err == nil {
		c := exec.Command(st, "lookup", "service", "rolecall-sstest", "username", "kept")
		c.Env = append(os.Environ(), s.Env...)
		if got, err := c.Output(); err != nil || string(got) != "kept-value" {
			t.Errorf("secret-tool lookup = %q, %v", got, err)
		}
	}
}

func secretServiceChecks(t *testing.T) {
	k := New("rolecall-sstest", nil)
	if err := k.Probe(); err != nil || !k.Available() {
		t.Fatalf("Secret Service not usable: %v", err)
	}
	big := strings.Repeat("x", 5000)
	for key, v := range map[string]string{"small": "v", "big": big} {
		if err := k.Set(key, v); err != nil {
			t.Fatal(err)
		}
		if got, err := k.Get(key); err != nil || got != v {
			t.Fatalf("Get %s: %d bytes, %v", key, len(got), err)
		}
		if err := k.Delete(key); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Get(key); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after Delete %s: %v", key, err)
		}
	}
	if !k.Available() {
		t.Fatal("fell back to memory")
	}
	if err := k.Set("kept", "kept-value"); err != nil {
		t.Fatal(err)
	}
}

// hangingBackend never answers, like go-keyring behind a locked keyring's
// password prompt.
type hangingBackend struct{ release chan struct{} }

func (h hangingBackend) Get(string, string) (string, error) { <-h.release; return "", nil }
func (h hangingBackend) Set(string, string, string) error   { <-h.release; return nil }
func (h hangingBackend) Delete(string, string) error        { <-h.release; return nil }

func TestKeyringTimeoutFallsBackToMemory(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	k := New("rolecall-test", nil)
	k.backend = hangingBackend{release}
	k.timeout = 50 * time.Millisecond
	if err := k.Set("a", "1"); err != nil {
		t.Fatalf("Set behind a hanging keyring: %v", err)
	}
	if k.Available() {
		t.Error("still using the hanging keyring")
	}
	if v, err := k.Get("a"); err != nil || v != "1" {
		t.Errorf("Get = %q, %v", v, err)
	}
}

func TestProbeSaysWhy(t *testing.T) {
	gokeyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	defer gokeyring.MockInit()
	err := New("rolecall-test", nil).Probe()
	if err == nil || !strings.Contains(ErrorMessage(err), "gnome-keyring") {
		t.Errorf("Probe without a keyring = %v", err)
	}
	gokeyring.MockInit()
	if err := New("rolecall-test", nil).Probe(); err != nil {
		t.Errorf("Probe with a keyring = %v", err)
	}
}
