package keyring

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

// The retry tests use a backend that is slow, hangs or is locked on
// demand; the real gnome-keyring's locked and frozen states are in
// TestSecretServiceLocked and TestSecretServiceFrozen.

// flakyBackend is an OS keyring that can hang (like go-keyring behind a
// password prompt) or be locked, and answers again when told.
type flakyBackend struct {
	mu      sync.Mutex
	data    map[string]string
	locked  bool
	missing error         // non-nil: there is no keyring, calls fail with it
	release chan struct{} // non-nil: calls hang until it is closed
	calls   int
}

func newFlaky() *flakyBackend { return &flakyBackend{data: map[string]string{}} }

func (f *flakyBackend) enter() error {
	f.mu.Lock()
	f.calls++
	rel, locked, missing := f.release, f.locked, f.missing
	f.mu.Unlock()
	if missing != nil {
		return missing
	}
	if rel != nil {
		<-rel
	}
	if locked {
		return errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'")
	}
	return nil
}

func (f *flakyBackend) Get(_, user string) (string, error) {
	if err := f.enter(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[user]
	if !ok {
		return "", gokeyring.ErrNotFound
	}
	return v, nil
}

func (f *flakyBackend) Set(_, user, v string) error {
	if err := f.enter(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data[user] = v
	return nil
}

func (f *flakyBackend) Delete(_, user string) error {
	if err := f.enter(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.data[user]; !ok {
		return gokeyring.ErrNotFound
	}
	delete(f.data, user)
	return nil
}

func (f *flakyBackend) stored(user string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[user]
	return v, ok
}

func testKeyring(b Backend) *Keyring {
	k := New("rolecall-test", nil)
	k.backend, k.timeout, k.retry = b, 50*time.Millisecond, 5*time.Millisecond
	return k
}

// waitPending waits (bounded) until no write waits to be retried.
func waitPending(t *testing.T, k *Keyring) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); k.Pending() > 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes still pending", k.Pending())
		}
	}
}

// A keyring that times out is reported, never replaced by memory: reads
// fail with ErrTimeout, writes are kept pending, and once it answers the
// writes land in it and reads go through to it.
func TestKeyringTimeoutIsReportedAndRetried(t *testing.T) {
	b := newFlaky()
	b.data["old"] = "kept-before"
	b.release = make(chan struct{})
	k := testKeyring(b)
	t.Cleanup(k.Close)
	if _, err := k.Get("old"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Get behind a hanging keyring: %v, want ErrTimeout", err)
	}
	if err := k.Set("new", "written-while-hung"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Set behind a hanging keyring: %v, want ErrTimeout", err)
	}
	if !k.Available() || k.Err() == nil {
		t.Errorf("Available = %v, Err = %v: a slow keyring is not a missing one", k.Available(), k.Err())
	}
	if v, err := k.Get("new"); err != nil || v != "written-while-hung" {
		t.Errorf("Get of a pending write = %q, %v", v, err)
	}
	if k.Pending() != 1 {
		t.Errorf("pending = %d, want 1", k.Pending())
	}
	b.mu.Lock()
	close(b.release)
	b.release = nil
	b.mu.Unlock()
	waitPending(t, k)
	if v, ok := b.stored("new"); !ok || v != "written-while-hung" {
		t.Errorf("the OS keyring holds %q, %v after it answered", v, ok)
	}
	if v, err := k.Get("old"); err != nil || v != "kept-before" {
		t.Errorf("Get reads through after the keyring answered: %q, %v", v, err)
	}
	if err := k.Err(); err != nil {
		t.Errorf("Err after recovery = %v", err)
	}
}

// A locked keyring: ErrLocked, a later write replaces a pending one, and a
// delete is retried too; nothing ends up in memory only.
func TestKeyringLockedThenUnlocked(t *testing.T) {
	b := newFlaky()
	b.data["gone"] = "x"
	b.locked = true
	k := testKeyring(b)
	k.retry = time.Hour // retried by hand below
	t.Cleanup(k.Close)
	if err := k.Probe(); !errors.Is(err, ErrLocked) || !strings.Contains(ErrorMessage(err), "unlock it") {
		t.Errorf("Probe of a locked keyring = %v (%s)", err, ErrorMessage(err))
	}
	for _, v := range []string{"first", "second"} {
		if err := k.Set("a", v); !errors.Is(err, ErrLocked) {
			t.Fatalf("Set %s: %v, want ErrLocked", v, err)
		}
	}
	if err := k.Delete("gone"); !errors.Is(err, ErrLocked) {
		t.Fatalf("Delete: %v, want ErrLocked", err)
	}
	if _, err := k.Get("gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after a pending delete: %v", err)
	}
	b.mu.Lock()
	b.locked = false
	b.mu.Unlock()
	k.probe() // what the probe loop does every retry interval
	k.mu.Lock()
	todo := []pendingWrite{k.pending["a"], k.pending["gone"]}
	k.mu.Unlock()
	for _, w := range todo {
		k.retryOne(w)
	}
	if v, _ := b.stored("a"); v != "second" {
		t.Errorf("OS keyring holds a = %q, want the last write", v)
	}
	if _, ok := b.stored("gone"); ok {
		t.Error("the pending delete was not applied")
	}
	if k.Pending() != 0 || !k.Available() {
		t.Errorf("pending %d, available %v", k.Pending(), k.Available())
	}
	// A direct write that lands drops an older pending one of its key.
	b.mu.Lock()
	b.locked = true
	b.mu.Unlock()
	k.Set("c", "old")
	b.mu.Lock()
	b.locked = false
	b.mu.Unlock()
	k.probe()
	if err := k.Set("c", "new"); err != nil || k.Pending() != 0 {
		t.Fatalf("Set after unlock: %v, pending %d", err, k.Pending())
	}
}

// At most one call waits on a hung keyring: the rest time out without
// starting more goroutines that hang.
func TestKeyringHungCallsDoNotPileUp(t *testing.T) {
	b := newFlaky()
	b.release = make(chan struct{})
	defer close(b.release)
	k := testKeyring(b)
	k.retry = time.Hour
	t.Cleanup(k.Close)
	for range 5 {
		if _, err := k.Get("x"); !errors.Is(err, ErrTimeout) {
			t.Fatalf("Get: %v", err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calls != 1 {
		t.Errorf("%d calls entered the hung keyring, want 1", b.calls)
	}
}

// No session bus where DBUS_SESSION_BUS_ADDRESS points: no keyring at
// all, so memory (said once), not an error at every call.
func TestNoBusFallsBackToMemory(t *testing.T) {
	_, dialErr := net.Dial("unix", filepath.Join(t.TempDir(), "no-bus"))
	if dialErr == nil {
		t.Fatal("dialled a socket that does not exist")
	}
	k := testKeyring(errBackend{dialErr})
	t.Cleanup(k.Close)
	if err := k.Set("a", "1"); err != nil || k.Available() {
		t.Fatalf("Set without a bus: %v, available %v", err, k.Available())
	}
	if v, err := k.Get("a"); err != nil || v != "1" {
		t.Errorf("Get = %q, %v", v, err)
	}
}

// errBackend fails every call with err.
type errBackend struct{ err error }

func (e errBackend) Get(string, string) (string, error) { return "", e.err }
func (e errBackend) Set(string, string, string) error   { return e.err }
func (e errBackend) Delete(string, string) error        { return e.err }

// Close makes one last attempt at what is pending (rolecall stopping
// right after the keyring was unlocked loses nothing).
func TestKeyringCloseWritesPending(t *testing.T) {
	b := newFlaky()
	b.locked = true
	k := testKeyring(b)
	k.retry = time.Hour
	if err := k.Set("a", "1"); !errors.Is(err, ErrLocked) {
		t.Fatalf("Set: %v", err)
	}
	b.mu.Lock()
	b.locked = false
	b.mu.Unlock()
	k.Close()
	if v, ok := b.stored("a"); !ok || v != "1" {
		t.Errorf("after Close the OS keyring holds %q, %v", v, ok)
	}
}

// TestAnswersAfterUnlock: a keyring that was locked is asked again by
// itself, and Answers says when it answers, without anyone else calling.
func TestAnswersAfterUnlock(t *testing.T) {
	b := newFlaky()
	b.locked = true
	k := NewWith("rolecall-test", b, nil)
	k.retry = 10 * time.Millisecond
	defer k.Close()
	if _, err := k.Get("sso-token:corp"); !errors.Is(err, ErrLocked) {
		t.Fatalf("Get on a locked keyring: %v, want ErrLocked", err)
	}
	select {
	case <-k.Answers():
		t.Fatal("Answers while still locked")
	case <-time.After(50 * time.Millisecond):
	}
	b.mu.Lock()
	b.locked = false
	b.mu.Unlock()
	select {
	case <-k.Answers():
	case <-time.After(10 * time.Second):
		t.Fatal("no Answers within 10 s of the unlock")
	}
	if err := k.Err(); err != nil {
		t.Errorf("Err after the keyring answered: %v", err)
	}
}

// TestNoKeyringRecovers: one "no Secret Service" answer (the provider not
// up yet at login, or restarting) is not memory-only for the life of the
// process. Meanwhile writes are kept in memory; once the keyring is there,
// what it stores is visible, what was kept is written to it, and new
// writes go to it.
func TestNoKeyringRecovers(t *testing.T) {
	b := newFlaky()
	b.data["stored-before"] = "from-the-keyring"
	b.missing = errors.New("The name org.freedesktop.secrets was not provided by any .service files")
	k := NewWith("rolecall-test", b, nil)
	k.timeout, k.retry = time.Second, 5*time.Millisecond
	defer k.Close()
	if err := k.Set("kept", "while-missing"); err != nil {
		t.Fatalf("Set without a keyring: %v", err)
	}
	if k.Available() {
		t.Error("Available without a keyring")
	}
	if v, err := k.Get("kept"); err != nil || v != "while-missing" {
		t.Errorf("Get from memory = %q, %v", v, err)
	}
	if _, err := k.Get("stored-before"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of an entry of a missing keyring: %v, want ErrNotFound", err)
	}
	epoch := k.Epoch()
	b.mu.Lock()
	b.missing = nil // gnome-keyring is up now
	b.mu.Unlock()
	select {
	case <-k.Answers():
	case <-time.After(10 * time.Second):
		t.Fatal("no Answers within 10 s of the keyring appearing")
	}
	waitPending(t, k)
	if v, ok := b.stored("kept"); !ok || v != "while-missing" {
		t.Errorf("the keyring holds kept = %q, %v: what was kept in memory was not saved", v, ok)
	}
	if v, err := k.Get("stored-before"); err != nil || v != "from-the-keyring" {
		t.Errorf("Get of a stored entry after the keyring appeared = %q, %v", v, err)
	}
	if err := k.Set("new", "after"); err != nil {
		t.Fatal(err)
	}
	if v, ok := b.stored("new"); !ok || v != "after" {
		t.Errorf("a new write did not reach the keyring: %q, %v", v, ok)
	}
	if !k.Available() || k.Err() != nil || k.Epoch() == epoch {
		t.Errorf("afterwards: available %v, err %v, epoch %d (was %d)", k.Available(), k.Err(), k.Epoch(), epoch)
	}
}

// TestNotAnsweringAnswersAtOnce: while the keyring is known to be locked,
// callers are answered at once from that state (the probe loop asks the
// OS keyring): a tray redraw reading ten sessions' tokens does not wait
// ten timeouts.
func TestNotAnsweringAnswersAtOnce(t *testing.T) {
	b := newFlaky()
	b.locked = true
	k := testKeyring(b)
	k.retry = time.Hour // no probe meanwhile: every call counted is a caller's
	t.Cleanup(k.Close)
	if _, err := k.Get("sso-token:a"); !errors.Is(err, ErrLocked) {
		t.Fatalf("first Get: %v, want ErrLocked", err)
	}
	for i := range 10 {
		if _, err := k.Get("sso-token:c"); !errors.Is(err, ErrLocked) {
			t.Fatalf("Get %d: %v, want ErrLocked", i, err)
		}
		if err := k.Set("sso-token:b", "v"); !errors.Is(err, ErrLocked) {
			t.Fatalf("Set %d: %v, want ErrLocked", i, err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calls != 1 {
		t.Errorf("%d calls reached the locked keyring, want 1 (the first; the probe loop asks it after)", b.calls)
	}
}
