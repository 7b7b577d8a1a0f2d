package keyring

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	defer k.Close() // before MockInit: its probe loop reads the mock
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
	s := childTest(t, "1", secretServiceChecks, nil, nil)
	// The secret is really in gnome-keyring: secret-tool finds it.
	if st, err := exec.LookPath("secret-tool"); err == nil && s != nil {
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

func TestProbeSaysWhy(t *testing.T) {
	gokeyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	defer gokeyring.MockInit()
	k := New("rolecall-test", nil)
	err := k.Probe()
	k.Close() // before MockInit: its probe loop reads the mock
	if err == nil || !strings.Contains(ErrorMessage(err), "gnome-keyring") {
		t.Errorf("Probe without a keyring = %v", err)
	}
	gokeyring.MockInit()
	k = New("rolecall-test", nil)
	defer k.Close()
	if err := k.Probe(); err != nil {
		t.Errorf("Probe with a keyring = %v", err)
	}
}

// TestSecretServiceLocked: gnome-keyring's login collection is locked
// (autostart before the user typed the password), then unlocked. rolecall
// reports ErrLocked meanwhile, never falls back to memory, and loses
// nothing: the write it was refused lands after the unlock. The keyring
// user is a child process, so that it talks to the real Secret Service;
// it is New's keyring (go-keyring) and Open's (a kept session).
func TestSecretServiceLocked(t *testing.T) {
	for _, c := range constructors {
		t.Run(c.name, func(t *testing.T) {
			s := childTest(t, "locked", func(t *testing.T) { refusedChild(t, c.open, "rolecall-locktest", ErrLocked) },
				(*desktoptest.Session).LockKeyring, (*desktoptest.Session).UnlockKeyring)
			if st, err := exec.LookPath("secret-tool"); err == nil && s != nil {
				c := exec.Command(st, "lookup", "service", "rolecall-locktest", "username", "written-while-refused")
				c.Env = append(os.Environ(), s.Env...)
				if got, err := c.Output(); err != nil || string(got) != "v2" {
					t.Errorf("secret-tool lookup of the retried write = %q, %v", got, err)
				}
			}
		})
	}
}

// childTest runs child when this process is the child (mode) of the test
// t. Otherwise it starts gnome-keyring on a private bus and runs t in a
// child process there, failing with the child's output unless it passed:
// with refuse and allow, as keyringDialogue; with nil, at once. It
// returns that session (nil in the child).
func childTest(t *testing.T, mode string, child func(*testing.T), refuse, allow func(*desktoptest.Session, testing.TB)) *desktoptest.Session {
	t.Helper()
	if os.Getenv("ROLECALL_KEYRING_CHILD") == mode {
		child(t)
		return nil
	}
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	if refuse != nil {
		keyringDialogue(t, s, t.Name(), mode, func(tb testing.TB) { refuse(s, tb) }, func(tb testing.TB) { allow(s, tb) })
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), s.Env...), "ROLECALL_KEYRING_CHILD="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("against gnome-keyring: %v\n%s", err, out)
	}
	return s
}

// constructors are the keyrings the tests against gnome-keyring run with.
var constructors = []struct {
	name string
	open func(string, *slog.Logger) *Keyring
}{{"go-keyring", New}, {"session", Open}}

// keyringDialogue runs test in a child process (mode child) inside s:
// once the child has stored a secret, refuse makes the keyring refuse;
// once the child saw it refused, allow makes it answer again.
func keyringDialogue(t *testing.T, s *desktoptest.Session, test, child string, refuse, allow func(testing.TB)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), s.Env...), "ROLECALL_KEYRING_CHILD="+child)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	var out strings.Builder
	expect := func(want string) {
		t.Helper()
		for lines.Scan() {
			out.WriteString(lines.Text() + "\n")
			if lines.Text() == want {
				return
			}
		}
		cmd.Wait()
		t.Fatalf("child never said %s:\n%s%s", want, out.String(), stderr.String())
	}
	expect("STORED")
	refuse(t)
	io.WriteString(stdin, "refused\n")
	expect("REFUSED")
	allow(t)
	io.WriteString(stdin, "answering\n")
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(out.String(), "--- PASS: "+test) {
		t.Fatalf("child: %v\n%s%s", err, out.String(), stderr.String())
	}
}

// refusedChild is the child of keyringDialogue: the keyring (service,
// made by open, warmed as rolecall serve does: nothing for New) refuses
// with want while the parent makes it, and nothing is lost.
func refusedChild(t *testing.T, open func(string, *slog.Logger) *Keyring, service string, want error) {
	k := open(service, nil)
	k.timeout, k.retry = time.Second, 20*time.Millisecond
	k.Warm()
	defer k.Close()
	talk := newDialogue(t)
	if err := k.Set("kept", "v1"); err != nil {
		t.Fatal(err)
	}
	talk.step("STORED", "refused")
	if _, err := k.Get("kept"); !errors.Is(err, want) {
		t.Errorf("Get from a refusing keyring: %v, want %v", err, want)
	}
	if err := k.Set("written-while-refused", "v2"); !errors.Is(err, want) {
		t.Errorf("Set into a refusing keyring: %v, want %v", err, want)
	}
	if !k.Available() {
		t.Error("fell back to memory")
	}
	talk.step("REFUSED", "answering")
	for deadline := time.Now().Add(10 * time.Second); k.Pending() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("write still pending 10s after the keyring answers again: %v", k.Err())
		}
	}
	for key, want := range map[string]string{"kept": "v1", "written-while-refused": "v2"} {
		if got, err := k.Get(key); err != nil || got != want {
			t.Errorf("Get %s afterwards = %q, %v", key, got, err)
		}
	}
	if !k.Available() || k.Err() != nil {
		t.Errorf("afterwards: available %v, err %v", k.Available(), k.Err())
	}
}

// dialogue is the child's side of keyringDialogue.
type dialogue struct {
	t     *testing.T
	stdin *bufio.Scanner
}

func newDialogue(t *testing.T) dialogue { return dialogue{t, bufio.NewScanner(os.Stdin)} }

// step says say to the parent and waits until it answers want.
func (d dialogue) step(say, want string) {
	d.t.Helper()
	fmt.Println(say)
	if !d.stdin.Scan() || d.stdin.Text() != want {
		d.t.Fatalf("parent did not say %s", want)
	}
}
