// Package keyring keeps rolecall's small secrets in the OS keyring (Secret
// Service, macOS Keychain, Windows Credential Manager): every call bounded
// by a timeout, large values split below Windows' size limit, and a memory
// fallback when the machine has no keyring at all. It knows nothing of
// what the secrets are: sso keeps its tokens here, main the listener's.
package keyring

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

// ErrNotFound: no such entry in the keyring.
var ErrNotFound = errors.New("not found in keyring")

// chunkSize keeps every keyring entry under Windows' limit of 2560 bytes
// per secret, with room for the encoding go-keyring adds.
const chunkSize = 1800

const chunkPrefix = "rolecall-chunks:"

// Keyring stores small secrets in the OS keyring (Secret Service, macOS
// Keychain, Windows Credential Manager) under one service name. Every call
// is bounded by a timeout, since a locked keyring can block forever behind
// a prompt. When no keyring is reachable it says so once and keeps secrets
// in memory only.
type Keyring struct {
	service string
	timeout time.Duration
	log     *slog.Logger
	backend backend

	memOnly atomic.Bool
	warn    sync.Once
	reason  error // why memOnly was set
	mu      sync.Mutex
	mem     map[string]string
}

// New returns a keyring for service with a 5 s timeout per call.
func New(service string, log *slog.Logger) *Keyring {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keyring{service: service, timeout: 5 * time.Second, log: log, mem: map[string]string{}, backend: osKeyring{}}
}

// backend is the OS keyring as go-keyring offers it; tests swap it for one
// that hangs.
type backend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

type osKeyring struct{}

func (osKeyring) Get(service, user string) (string, error) { return gokeyring.Get(service, user) }
func (osKeyring) Set(service, user, password string) error {
	return gokeyring.Set(service, user, password)
}
func (osKeyring) Delete(service, user string) error { return gokeyring.Delete(service, user) }

// Available reports whether secrets reach the OS keyring (false after it
// failed and the keyring fell back to memory).
func (k *Keyring) Available() bool { return !k.memOnly.Load() }

// Probe checks that the OS keyring answers, falling back to memory if not;
// the error says why it cannot be used.
func (k *Keyring) Probe() error {
	_, err := k.Get("probe")
	if !k.Available() {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.reason
	}
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Get returns the secret stored under key.
func (k *Keyring) Get(key string) (string, error) {
	v, err := k.get(key)
	if err != nil || !strings.HasPrefix(v, chunkPrefix) {
		return v, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, chunkPrefix))
	if err != nil || n < 1 || n > 64 {
		return "", fmt.Errorf("keyring entry %q is damaged", key)
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		part, err := k.get(chunkKey(key, i))
		if err != nil {
			return "", fmt.Errorf("keyring entry %q part %d: %w", key, i, err)
		}
		b.WriteString(part)
	}
	return b.String(), nil
}

// Set stores value under key, split into parts when it is large.
func (k *Keyring) Set(key, value string) error {
	if len(value) <= chunkSize && !strings.HasPrefix(value, chunkPrefix) {
		k.deleteChunks(key)
		return k.set(key, value)
	}
	n := (len(value) + chunkSize - 1) / chunkSize
	for i := 1; i <= n; i++ {
		part := value[(i-1)*chunkSize : min(i*chunkSize, len(value))]
		if err := k.set(chunkKey(key, i), part); err != nil {
			return err
		}
	}
	return k.set(key, chunkPrefix+strconv.Itoa(n))
}

// Delete removes key and its parts; a missing key is not an error.
func (k *Keyring) Delete(key string) error {
	k.deleteChunks(key)
	err := k.del(key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (k *Keyring) deleteChunks(key string) {
	v, err := k.get(key)
	if err != nil || !strings.HasPrefix(v, chunkPrefix) {
		return
	}
	n, _ := strconv.Atoi(strings.TrimPrefix(v, chunkPrefix))
	for i := 1; i <= n && i <= 64; i++ {
		k.del(chunkKey(key, i))
	}
}

func chunkKey(key string, i int) string { return key + "#" + strconv.Itoa(i) }

func (k *Keyring) get(key string) (string, error) {
	if !k.memOnly.Load() {
		var v string
		err := k.call(func() (err error) { v, err = k.backend.Get(k.service, key); return err })
		if err == nil || errors.Is(err, ErrNotFound) || !k.fallBack(err) {
			return v, err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.mem[key]
	if !ok {
		return "", ErrNotFound
	}
	return v, nil
}

func (k *Keyring) set(key, value string) error {
	if !k.memOnly.Load() {
		err := k.call(func() error { return k.backend.Set(k.service, key, value) })
		if err == nil || !k.fallBack(err) {
			return err
		}
	}
	k.mu.Lock()
	k.mem[key] = value
	k.mu.Unlock()
	return nil
}

func (k *Keyring) del(key string) error {
	if !k.memOnly.Load() {
		err := k.call(func() error { return k.backend.Delete(k.service, key) })
		if err == nil || errors.Is(err, ErrNotFound) || !k.fallBack(err) {
			return err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.mem[key]; !ok {
		return ErrNotFound
	}
	delete(k.mem, key)
	return nil
}

// call runs f with the timeout. go-keyring takes no context, so a call
// that hangs is abandoned (its goroutine ends whenever the keyring does).
func (k *Keyring) call(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if errors.Is(err, gokeyring.ErrNotFound) {
			return ErrNotFound
		}
		return err
	case <-time.After(k.timeout):
		return fmt.Errorf("the OS keyring did not answer within %v (locked, waiting for a password prompt?)", k.timeout)
	}
}

// fallBack switches to memory-only storage after an error that means the
// keyring cannot be used at all, and says so once. It reports whether it
// did. Other errors (such as a value too large) are returned as they are.
func (k *Keyring) fallBack(err error) bool {
	if errors.Is(err, gokeyring.ErrSetDataTooBig) {
		return false
	}
	k.mu.Lock()
	if k.reason == nil {
		k.reason = err
	}
	k.mu.Unlock()
	k.memOnly.Store(true)
	k.warn.Do(func() {
		k.log.Warn("no usable OS keyring: secrets are kept in memory only and will not survive a restart",
			"reason", ErrorMessage(err))
	})
	return true
}

// ErrorMessage turns a keyring failure into what a person can act on.
func ErrorMessage(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "dbus-launch") || strings.Contains(s, "DBUS_SESSION_BUS_ADDRESS"):
		return "no D-Bus session bus: start rolecall inside a desktop session (or dbus-run-session)"
	case strings.Contains(s, "org.freedesktop.secrets"):
		return "no Secret Service on the session bus: install and start gnome-keyring (or KeePassXC with Secret Service)"
	case strings.Contains(s, "failed to unlock"):
		return "the keyring is locked: unlock it (log in to the desktop, or gnome-keyring-daemon --unlock)"
	case strings.Contains(s, "did not answer"):
		return s
	}
	return s
}
