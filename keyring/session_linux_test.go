package keyring

import (
	"errors"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// Open's kept Secret Service session against the real gnome-keyring. Like
// TestSecretService, the checks run in a child process: the logic tests
// replace go-keyring with its mock for the whole process, and an Open
// keyring's reads that go-keyring makes would reach the mock.

// kept is k's Secret Service backend.
func kept(t testing.TB, k *Keyring) *secretService {
	t.Helper()
	s, ok := k.backend.(*secretService)
	if !ok {
		t.Fatalf("Open's backend is %T, want *secretService", k.backend)
	}
	return s
}

// state is whether s keeps a session, and how many reads go-keyring made.
func (s *secretService) state() (session dbus.ObjectPath, fallbacks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session != nil {
		session = s.session.Path()
	}
	return session, s.fallbacks
}

// TestSessionReads: what go-keyring wrote is read through the kept
// session (go-keyring's Get not called once), a missing entry is
// ErrNotFound, and Close closes the session in gnome-keyring and leaves
// no goroutine behind.
func TestSessionReads(t *testing.T) { childTest(t, "session", sessionReadsChild, nil, nil) }

func sessionReadsChild(t *testing.T) {
	const service = "rolecall-sessiontest"
	// go-keyring's write connects godbus's shared bus: its goroutines
	// are the process's, there before the keyring and after it.
	if err := gokeyring.Set(service, "sso-token:corp", "token-from-go-keyring"); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	k := Open(service, nil)
	k.Warm()
	b := kept(t, k)
	big := strings.Repeat("0123456789abcdef", 400) // in parts: several reads
	if err := k.Set("big", big); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if v, err := k.Get("sso-token:corp"); err != nil || v != "token-from-go-keyring" {
			t.Fatalf("Get = %q, %v", v, err)
		}
		if v, err := k.Get("big"); err != nil || v != big {
			t.Fatalf("Get big: %d bytes, %v", len(v), err)
		}
		if _, err := k.Get("never-written"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of a missing entry: %v, want ErrNotFound", err)
		}
	}
	if err := k.Probe(); err != nil {
		t.Errorf("Probe: %v", err)
	}
	session, fallbacks := b.state()
	if session == "" || fallbacks != 0 {
		t.Fatalf("session %q kept, %d reads made by go-keyring's Get: want a session and none", session, fallbacks)
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	isSession := func() bool {
		var xml string
		err := conn.Object("org.freedesktop.secrets", session).Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&xml)
		return err == nil && strings.Contains(xml, "org.freedesktop.Secret.Session")
	}
	if !isSession() {
		t.Fatalf("gnome-keyring has no session at %s", session)
	}
	k.Close()
	if isSession() {
		t.Errorf("the session %s is still open in gnome-keyring after Close", session)
	}
	// The calls' goroutines end just after they answer: wait for them,
	// bounded.
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			var dump strings.Builder
			pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Fatalf("%d goroutines after Close, %d before Open:\n%s", runtime.NumGoroutine(), before, dump.String())
		}
	}
	// A read after Close is go-keyring's, and opens nothing.
	if v, err := k.Get("sso-token:corp"); err != nil || v != "token-from-go-keyring" {
		t.Errorf("Get after Close = %q, %v", v, err)
	}
	if session, fallbacks := b.state(); session != "" || fallbacks != 1 {
		t.Errorf("after Close: session %q, %d reads by go-keyring, want none and 1", session, fallbacks)
	}
}

// TestSessionRecovers: gnome-keyring is killed and a new one started on
// the same bus while a session is kept. The next read still answers
// (made by go-keyring, the stale session dropped), and the one after is
// made through a new session again: no switch thrown for good.
func TestSessionRecovers(t *testing.T) {
	// The dialogue's "refuse" is the restart here; nothing to allow.
	childTest(t, "session-restart", sessionRecoversChild,
		(*desktoptest.Session).RestartKeyring, func(*desktoptest.Session, testing.TB) {})
}

func sessionRecoversChild(t *testing.T) {
	k := Open("rolecall-restarttest", nil)
	k.timeout = 5 * time.Second
	defer k.Close()
	b := kept(t, k)
	if err := k.Set("kept", "v1"); err != nil {
		t.Fatal(err)
	}
	if v, err := k.Get("kept"); err != nil || v != "v1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	first, fallbacks := b.state()
	if first == "" || fallbacks != 0 {
		t.Fatalf("before the restart: session %q, %d reads by go-keyring", first, fallbacks)
	}
	talk := newDialogue(t)
	talk.step("STORED", "refused") // the parent restarted gnome-keyring
	if v, err := k.Get("kept"); err != nil || v != "v1" {
		t.Fatalf("first Get after the restart = %q, %v", v, err)
	}
	if _, fallbacks := b.state(); fallbacks != 1 {
		t.Errorf("%d reads by go-keyring after the restart, want 1 (the stale session's)", fallbacks)
	}
	for range 3 {
		if v, err := k.Get("kept"); err != nil || v != "v1" {
			t.Fatalf("Get after the restart = %q, %v", v, err)
		}
		if _, err := k.Get("never-written"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of a missing entry after the restart: %v", err)
		}
	}
	if session, fallbacks := b.state(); session == "" || fallbacks != 1 {
		t.Errorf("later reads: session %q, %d reads by go-keyring: want a new session and no more", session, fallbacks)
	}
	if !k.Available() || k.Err() != nil {
		t.Errorf("afterwards: available %v, err %v", k.Available(), k.Err())
	}
	talk.step("REFUSED", "answering")
}

// TestSessionLockedBackend: the kept session's reads of a locked login
// keyring, without the Keyring's known-state answers in between: an entry
// that is there and one that is not are both "locked" (go-keyring unlocks
// before it searches), never "not found"; after the unlock they are read
// through a session again.
func TestSessionLockedBackend(t *testing.T) {
	childTest(t, "session-locked-backend", sessionLockedChild,
		(*desktoptest.Session).LockKeyring, (*desktoptest.Session).UnlockKeyring)
}

func sessionLockedChild(t *testing.T) {
	const service = "rolecall-sessionlockedbackend"
	k := Open(service, nil)
	defer k.Close()
	b := kept(t, k)
	if err := k.Set("kept", "v1"); err != nil {
		t.Fatal(err)
	}
	talk := newDialogue(t)
	talk.step("STORED", "refused") // the parent locked the login keyring
	for _, key := range []string{"kept", "never-written"} {
		if _, err := b.Get(service, key); !errors.Is(classify(err), ErrLocked) {
			t.Errorf("Get %s from a locked keyring: %v, want ErrLocked", key, err)
		}
	}
	talk.step("REFUSED", "answering") // unlocked
	if v, err := b.Get(service, "kept"); err != nil || v != "v1" {
		t.Errorf("Get after the unlock = %q, %v", v, err)
	}
	if _, err := b.Get(service, "never-written"); !errors.Is(err, gokeyring.ErrNotFound) {
		t.Errorf("Get of a missing entry after the unlock: %v", err)
	}
	if session, _ := b.state(); session == "" {
		t.Error("no session kept after the unlock")
	}
}

// BenchmarkGet: a read of a stored SSO token (1500 bytes) from a private
// gnome-keyring through New (go-keyring's Get) and Open (the kept
// session), the Keyring's timeout and one-at-a-time turn included.
//
//	go test -run '^$' -bench Get -benchmem ./keyring
func BenchmarkGet(b *testing.B) {
	s := desktoptest.Start(b)
	s.StartKeyring(b)
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	const service, key = "rolecall-bench", "sso-token:corp"
	token := strings.Repeat("t", 1500)
	if err := gokeyring.Set(service, key, token); err != nil {
		b.Fatal(err)
	}
	// go-keyring's mock (set by the logic tests) would make this compare
	// the mock with gnome-keyring: Open's session must find the write.
	probe := Open(service, nil)
	v, err := probe.Get(key)
	_, fallbacks := kept(b, probe).state()
	probe.Close()
	if v != token || err != nil || fallbacks != 0 {
		b.Fatalf("gnome-keyring does not hold go-keyring's write (%v): go-keyring is mocked; run the benchmark alone: -run '^$'", err)
	}
	for _, c := range constructors {
		b.Run(c.name, func(b *testing.B) {
			k := c.open(service, nil)
			defer k.Close()
			for b.Loop() {
				if v, err := k.Get(key); err != nil || v != token {
					b.Fatalf("Get = %d bytes, %v", len(v), err)
				}
			}
		})
	}
}
