package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/testpki"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/private"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// lockableKeyring is an OS keyring that can be locked and unlocked.
type lockableKeyring struct {
	mu     sync.Mutex
	locked bool
	m      map[string]string
}

func (l *lockableKeyring) check() error {
	if l.locked {
		return errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'")
	}
	return nil
}

func (l *lockableKeyring) Get(_, user string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(); err != nil {
		return "", err
	}
	v, ok := l.m[user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (l *lockableKeyring) Set(_, user, v string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(); err != nil {
		return err
	}
	l.m[user] = v
	return nil
}

func (l *lockableKeyring) Delete(_, user string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.check(); err != nil {
		return err
	}
	if _, ok := l.m[user]; !ok {
		return keyring.ErrNotFound
	}
	delete(l.m, user)
	return nil
}

func (l *lockableKeyring) set(locked bool) {
	l.mu.Lock()
	l.locked = locked
	l.mu.Unlock()
}

func (l *lockableKeyring) entries() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	for k, v := range l.m {
		out[k] = v
	}
	return out
}

// TestTLSPairIsOneEntry: `tls save` while the keyring is locked keeps the
// whole pair pending, and what lands is one entry holding both; `tls
// print` (LoadTLS's certificate) never shows the key. Before, the key
// landed alone later and the next start refused to run.
func TestTLSPairIsOneEntry(t *testing.T) {
	b := &lockableKeyring{m: map[string]string{}, locked: true}
	kr := keyring.NewWith("rolecall-test", b, nil)
	defer kr.Close()
	s := &secrets{keyring: kr}
	certFile, keyFile := testpki.WritePair(t, t.TempDir(), "192.0.2.10")
	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(keyFile)
	if err := s.SaveTLS(certPEM, keyPEM); !errors.Is(err, keyring.ErrLocked) {
		t.Fatalf("SaveTLS into a locked keyring: %v", err)
	}
	if got := b.entries(); len(got) != 0 {
		t.Fatalf("the locked keyring holds %v", got)
	}
	b.set(false)
	for deadline := time.Now().Add(20 * time.Second); kr.Pending() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pair still pending: %v", kr.Err())
		}
	}
	got := b.entries()
	if len(got) != 1 || !strings.Contains(got[keyTLSPair], "CERTIFICATE") || !strings.Contains(got[keyTLSPair], "PRIVATE KEY") {
		t.Fatalf("keyring entries after the unlock: %v, want the one pair entry", keysOf(got))
	}
	cert, key, err := s.LoadTLS()
	if err != nil || strings.Contains(string(cert), "PRIVATE KEY") || !strings.Contains(string(key), "PRIVATE KEY") {
		t.Fatalf("LoadTLS: cert %q key %d bytes, %v", cert, len(key), err)
	}
	if err := s.DeleteTLS(); err != nil || len(b.entries()) != 0 {
		t.Errorf("DeleteTLS: %v, left %v", err, keysOf(b.entries()))
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// startWith starts an engine on a free port over keyring backend b.
func startWith(t *testing.T, b keyring.Backend, mod func(*settings.Settings)) (*Engine, string) {
	t.Helper()
	dir := t.TempDir()
	st := settings.Defaults()
	st.Port = 0
	if mod != nil {
		mod(&st)
	}
	kr := keyring.NewWith("rolecall-test", b, nil)
	e, err := Start(context.Background(), Config{
		Settings: st, Socket: filepath.Join(dir, "run", "control.sock"), StateDir: filepath.Join(dir, "state"),
		Fetcher: creds.FetcherFunc(func(context.Context, creds.Profile) (creds.Credentials, error) {
			return creds.Credentials{}, creds.ErrLoginRequired
		}),
		Resolve: func(_ context.Context, r control.LoadRequest) (creds.Profile, error) {
			return creds.Profile{Name: r.Profile}, nil
		},
		Keyring: kr, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(e.Close)
	return e, dir
}

// TestUnusablePairStillServes: a stored pair that cannot be used (the key
// of an earlier version's two entries, saved alone) does not stop
// rolecall: with a non-loopback bind it serves plain HTTP on 127.0.0.1
// (with a warning naming `rolecall tls delete`), and `tls delete` works
// against it.
func TestUnusablePairStillServes(t *testing.T) {
	b := &lockableKeyring{m: map[string]string{keyTLSKey: "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"}}
	e, dir := startWith(t, b, func(st *settings.Settings) { st.Bind = "0.0.0.0" })
	select {
	case <-e.Done():
		t.Fatal("rolecall stopped")
	default:
	}
	if !strings.HasPrefix(e.listener.URL(), "http://127.0.0.1:") {
		t.Fatalf("listener at %s, want plain HTTP on 127.0.0.1", e.listener.URL())
	}
	if got := statusWith(t, http.DefaultClient, e.listener.URL(), e.secrets.Token()); got != http.StatusNotFound {
		t.Errorf("GET / = %d, want 404 (nothing loaded)", got)
	}
	cl := control.NewClient(filepath.Join(dir, "run", "control.sock"))
	if _, err := cl.DeleteTLS(context.Background()); err != nil {
		t.Fatalf("tls delete against the running rolecall: %v", err)
	}
	if got := b.entries(); len(got) != 1 { // the listener's token is left
		t.Errorf("after tls delete the keyring holds %v", keysOf(got))
	}
}

// TestFirstStartLockedKeyring: the very first start (no token file) while
// the login keyring is locked serves with a fresh token in the 0600 token
// file, and writes the keyring once it answers. Before, it exited 1.
func TestFirstStartLockedKeyring(t *testing.T) {
	b := &lockableKeyring{m: map[string]string{}, locked: true}
	e, dir := startWith(t, b, nil)
	tokenFile := filepath.Join(dir, "state", "token")
	tok, err := os.ReadFile(tokenFile)
	if err != nil || string(tok) != e.secrets.Token() {
		t.Fatalf("token file %q, %v; token in force %q", tok, err, e.secrets.Token())
	}
	if err := private.Check(tokenFile); err != nil {
		t.Errorf("token file: %v", err)
	}
	if got := statusWith(t, http.DefaultClient, e.listener.URL(), string(tok)); got != http.StatusNotFound {
		t.Errorf("GET / with the file's token = %d, want 404 (nothing loaded)", got)
	}
	b.set(false) // the user unlocks the keyring
	for deadline := time.Now().Add(30 * time.Second); b.entries()[keyListenerToken] != string(tok); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the keyring never got the token: %v", keysOf(b.entries()))
		}
	}
}
