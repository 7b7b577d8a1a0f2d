// Package keyring keeps rolecall's small secrets in the OS keyring (Secret
// Service, macOS Keychain, Windows Credential Manager): every call bounded
// by a timeout, large values split below Windows' size limit. A keyring
// that is locked or slow is reported (ErrLocked, ErrTimeout), one that is
// not there (no Secret Service yet) is replaced by memory; both states are
// probed again and recover: a write refused meanwhile lands when the
// keyring answers, and while it does not, callers are answered at once
// from what the keyring package knows instead of waiting on it. It knows
// nothing of what the secrets are: sso keeps its tokens here, main the
// listener's.
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

// ErrLocked: the keyring's collection is locked and could not be unlocked
// (no password prompt, or it was dismissed). The call may work later.
var ErrLocked = errors.New("the OS keyring is locked")

// ErrTimeout: the keyring did not answer in time (often: waiting behind a
// password prompt). The call may work later.
var ErrTimeout = errors.New("the OS keyring did not answer in time")

// ErrNoKeyring: there is no OS keyring now (no session bus, nothing
// provides the Secret Service yet). Writes are kept in memory meanwhile
// and saved when one appears.
var ErrNoKeyring = errors.New("no OS keyring")

// chunkSize keeps every keyring entry under Windows' limit of 2560 bytes
// per secret, with room for the encoding go-keyring adds.
const chunkSize = 1800

const chunkPrefix = "rolecall-chunks:"

// Keyring stores small secrets in the OS keyring under one service name.
// Every call is bounded by a timeout, since a locked keyring can block
// forever behind a prompt; at most one call waits on the OS keyring at a
// time. When the keyring is locked or slow, reads fail with ErrLocked or
// ErrTimeout and writes are kept pending and retried; when there is no
// keyring, writes are kept in memory (pending too) and reads find only
// them. In either state the keyring asks the OS every retry interval
// (Answers says when it answers), and meanwhile answers its callers at
// once with the state it knows rather than making them wait.
type Keyring struct {
	service string
	timeout time.Duration
	retry   time.Duration // between attempts to write pending entries
	log     *slog.Logger
	backend Backend
	busy    chan struct{} // held by the one call in the OS keyring

	absent atomic.Bool // no OS keyring at the last call: memory keeps the writes

	wmu sync.Mutex // one write (of a caller or of the retry loop) at a time

	mu       sync.Mutex
	reason   error  // why absent was set
	lastErr  error  // of the last OS keyring call; nil after a success
	epoch    uint64 // how often the keyring answered again after not answering
	pending  map[string]pendingWrite
	gen      uint64
	retrying bool
	probing  bool          // probeLoop runs
	answers  chan struct{} // see Answers
	closed   chan struct{}
	loops    sync.WaitGroup // the retry loop, waited for by Close
}

// New returns a keyring for service with a 5 s timeout per call.
func New(service string, log *slog.Logger) *Keyring {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Keyring{
		service: service, timeout: 5 * time.Second, retry: 5 * time.Second, log: log, backend: osKeyring{},
		busy: make(chan struct{}, 1), pending: map[string]pendingWrite{},
		closed: make(chan struct{}), answers: make(chan struct{}, 1),
	}
}

// NewWith returns a keyring for service kept in b instead of the OS
// keyring.
func NewWith(service string, b Backend, log *slog.Logger) *Keyring {
	k := New(service, log)
	k.backend = b
	return k
}

// Backend is an OS keyring as go-keyring offers it. NewWith takes one:
// tests use one that is slow, hangs or is locked.
type Backend interface {
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

// Available reports whether secrets reach the OS keyring (false while
// there is none and secrets are kept in memory until one appears).
func (k *Keyring) Available() bool { return !k.absent.Load() }

// Epoch counts how often the keyring answered again after it was missing,
// locked or silent: a reader that found nothing while it did not answer
// reads again when Epoch changed.
func (k *Keyring) Epoch() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.epoch
}

// Err is what went wrong with the OS keyring's last call (ErrLocked,
// ErrTimeout, ...), or nil when it answered; also non-nil while writes
// wait to be retried.
func (k *Keyring) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lastErr == nil && len(k.pending) > 0 {
		return fmt.Errorf("%d keyring write(s) waiting to be retried", len(k.pending))
	}
	return k.lastErr
}

// Probe checks that the OS keyring answers; the error says why it cannot
// be used now.
func (k *Keyring) Probe() error {
	_, err := k.get("probe")
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

// Get returns the secret stored under key. A value whose write is still
// pending is returned as written.
func (k *Keyring) Get(key string) (string, error) {
	k.mu.Lock()
	p, ok := k.pending[key]
	k.mu.Unlock()
	if ok {
		if p.deleted {
			return "", ErrNotFound
		}
		return p.value, nil
	}
	v, err := k.get(key)
	if err != nil || !strings.HasPrefix(v, chunkPrefix) {
		return v, err
	}
	// A value in parts is read again under the write lock, so that a
	// concurrent Set cannot hand back old parts mixed with new ones.
	k.wmu.Lock()
	defer k.wmu.Unlock()
	if v, err = k.get(key); err != nil || !strings.HasPrefix(v, chunkPrefix) {
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

// Set stores value under key, split into parts when it is large. When the
// OS keyring is locked or does not answer, the error says so and the
// write is kept pending: Get returns it and it is retried until it lands
// or a later Set or Delete of key replaces it.
func (k *Keyring) Set(key, value string) error {
	return k.write(pendingWrite{key: key, value: value})
}

// Delete removes key and its parts; a missing key is not an error. A
// delete the OS keyring refused is retried like a Set.
func (k *Keyring) Delete(key string) error {
	return k.write(pendingWrite{key: key, deleted: true})
}

// write applies w to the OS keyring (or memory), or keeps it pending.
func (k *Keyring) write(w pendingWrite) error {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	err := k.apply(w)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err == nil || !retryable(err) {
		delete(k.pending, w.key)
		return err
	}
	k.gen++
	w.gen = k.gen
	k.pending[w.key] = w
	k.startRetryLocked()
	if errors.Is(err, ErrNoKeyring) {
		return nil // kept in memory, saved when a keyring appears
	}
	return fmt.Errorf("%w (rolecall retries it)", err)
}

func (k *Keyring) apply(w pendingWrite) error {
	if w.deleted {
		k.deleteChunks(w.key)
		err := k.del(w.key)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	if len(w.value) <= chunkSize && !strings.HasPrefix(w.value, chunkPrefix) {
		k.deleteChunks(w.key)
		return k.set(w.key, w.value)
	}
	n := (len(w.value) + chunkSize - 1) / chunkSize
	for i := 1; i <= n; i++ {
		part := w.value[(i-1)*chunkSize : min(i*chunkSize, len(w.value))]
		if err := k.set(chunkKey(w.key, i), part); err != nil {
			return err
		}
	}
	return k.set(w.key, chunkPrefix+strconv.Itoa(n))
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

// get reads key from the OS keyring. While there is none, nothing but the
// writes kept in memory (which Get looks at first) exists: ErrNotFound.
func (k *Keyring) get(key string) (string, error) {
	v, err := k.ask(func() (string, error) { return k.backend.Get(k.service, key) })
	if errors.Is(err, ErrNoKeyring) {
		return "", ErrNotFound
	}
	return v, err
}

func (k *Keyring) set(key, value string) error {
	_, err := k.ask(func() (string, error) { return "", k.backend.Set(k.service, key, value) })
	return err
}

func (k *Keyring) del(key string) error {
	_, err := k.ask(func() (string, error) { return "", k.backend.Delete(k.service, key) })
	return err
}

// ask runs f in the OS keyring, unless the keyring is known not to answer
// now (missing, locked, silent): then it fails at once with that state,
// and the probe loop is what asks the OS keyring until it answers. So a
// keyring behind a password prompt costs one timeout, not one per call.
func (k *Keyring) ask(f func() (string, error)) (string, error) {
	k.mu.Lock()
	known := k.notAnsweringLocked()
	k.mu.Unlock()
	if known != nil {
		return "", known
	}
	return k.call(f)
}

// call runs f with the timeout, one call at a time (see bounded), and
// records what it says of the OS keyring's state.
func (k *Keyring) call(f func() (string, error)) (string, error) {
	v, err := k.bounded(f)
	k.mu.Lock()
	k.noteCallLocked(err)
	k.mu.Unlock()
	return v, err
}

// bounded runs f with the timeout, one call at a time. go-keyring takes no
// context, so a call that hangs is abandoned: its goroutine keeps the
// keyring busy until the OS keyring answers, and later calls wait for it
// (within their own timeout) rather than pile up.
func (k *Keyring) bounded(f func() (string, error)) (string, error) {
	timer := time.NewTimer(k.timeout)
	defer timer.Stop()
	type result struct {
		v   string
		err error
	}
	var r result
	var err error
	select {
	case k.busy <- struct{}{}:
		done := make(chan result, 1)
		go func() {
			v, err := f()
			<-k.busy
			done <- result{v, err}
		}()
		select {
		case r = <-done:
			err = classify(r.err)
		case <-timer.C:
			err = fmt.Errorf("%w within %v (locked, waiting for a password prompt?)", ErrTimeout, k.timeout)
		}
	case <-timer.C:
		err = fmt.Errorf("%w within %v: an earlier call is still waiting for it", ErrTimeout, k.timeout)
	}
	return r.v, err
}
