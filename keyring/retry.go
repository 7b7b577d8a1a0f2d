package keyring

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	gokeyring "github.com/zalando/go-keyring"
)

// pendingWrite is a Set (or a Delete) the OS keyring refused, waiting to
// be retried.
type pendingWrite struct {
	key     string
	value   string
	deleted bool
	gen     uint64 // tells a retried write from a newer one of the same key
}

// Pending is how many writes wait to be retried.
func (k *Keyring) Pending() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.pending)
}

// Close stops retrying pending writes after one last attempt at each in
// the OS keyring, whatever state it was last seen in (it stops at the
// first that fails, so it waits at most about one timeout); what is still
// pending then is lost, and was reported when it failed. Then, unless the
// keyring is not answering, it closes what the backend keeps open (Open's
// Secret Service session).
func (k *Keyring) Close() {
	k.mu.Lock()
	select {
	case <-k.closed:
		k.mu.Unlock()
		return
	default:
		close(k.closed)
	}
	k.mu.Unlock()
	k.loops.Wait() // the loops end at their next turn: no call is left behind
	k.mu.Lock()
	silent := errors.Is(k.lastErr, ErrTimeout)
	k.lastErr = nil // the last attempt asks the OS keyring itself
	k.absent.Store(false)
	todo := make([]pendingWrite, 0, len(k.pending))
	for _, w := range k.pending {
		todo = append(todo, w)
	}
	k.mu.Unlock()
	for _, w := range todo {
		if !k.retryOne(w) {
			break
		}
	}
	if n := k.Pending(); n > 0 {
		k.log.Warn("keyring writes not saved: the keyring did not answer (or was not there) before rolecall stopped", "count", n)
	}
	k.mu.Lock()
	silent = silent || errors.Is(k.lastErr, ErrTimeout)
	k.mu.Unlock()
	if !silent {
		// A keyring that does not answer would hold Close another
		// timeout; the session ends with the connection anyway.
		k.closeBackend()
	}
}

// startRetryLocked starts the loop that writes pending entries, unless it
// runs. k.mu is held.
func (k *Keyring) startRetryLocked() {
	if k.retrying {
		return
	}
	select {
	case <-k.closed:
		return
	default:
	}
	k.retrying = true
	k.loops.Add(1)
	go k.retryLoop()
}

// retryLoop writes the pending entries every k.retry until none is left
// or the keyring is closed.
func (k *Keyring) retryLoop() {
	defer k.loops.Done()
	for {
		select {
		case <-k.closed:
			k.mu.Lock()
			k.retrying = false
			k.mu.Unlock()
			return
		case <-time.After(k.retry):
		}
		k.mu.Lock()
		todo := make([]pendingWrite, 0, len(k.pending))
		for _, w := range k.pending {
			todo = append(todo, w)
		}
		k.mu.Unlock()
		for _, w := range todo {
			k.retryOne(w)
		}
		k.mu.Lock()
		if len(k.pending) == 0 {
			k.retrying = false
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
	}
}

// retryOne writes w unless a newer write of its key came meanwhile; false
// when the keyring refused it again.
func (k *Keyring) retryOne(w pendingWrite) bool {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	k.mu.Lock()
	cur, ok := k.pending[w.key]
	k.mu.Unlock()
	if !ok || cur.gen != w.gen {
		return true
	}
	err := k.apply(w)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil && retryable(err) {
		return false
	}
	delete(k.pending, w.key)
	if err != nil {
		k.log.Warn("keyring write given up", "entry", w.key, "err", err)
		return true
	}
	k.log.Info("keyring write retried and saved", "entry", w.key)
	return true
}

// classify maps go-keyring's and D-Bus's errors onto this package's.
func classify(err error) error {
	var dbusErr dbus.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gokeyring.ErrNotFound):
		return ErrNotFound
	case noKeyring(err):
		return fmt.Errorf("%w: %w", ErrNoKeyring, err)
	case strings.Contains(err.Error(), "failed to unlock"),
		errors.As(err, &dbusErr) && dbusErr.Name == "org.freedesktop.Secret.Error.IsLocked":
		return fmt.Errorf("%w: %v", ErrLocked, err)
	}
	return err
}

// noKeyring reports whether err means there is no OS keyring at all: no
// session bus (none named, or nothing listening where it is named),
// nothing providing the Secret Service, an unsupported platform.
func noKeyring(err error) bool {
	var dbusErr dbus.Error
	var execErr *exec.Error
	var netErr *net.OpError
	s := err.Error()
	return errors.Is(err, gokeyring.ErrUnsupportedPlatform) || errors.As(err, &execErr) ||
		errors.As(err, &netErr) && netErr.Op == "dial" ||
		errors.As(err, &dbusErr) && dbusErr.Name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
		strings.Contains(s, "was not provided by any .service files") ||
		strings.Contains(s, "dbus-launch") || strings.Contains(s, "DBUS_SESSION_BUS_ADDRESS")
}

// retryable reports whether a failed write may work later (and so is kept
// pending).
func retryable(err error) bool {
	return !errors.Is(err, gokeyring.ErrSetDataTooBig) && !errors.Is(err, ErrNotFound)
}

// ErrorMessage turns a keyring failure into what a person can act on.
func ErrorMessage(err error) string {
	s := err.Error()
	switch {
	case errors.Is(err, ErrLocked) || strings.Contains(s, "failed to unlock"):
		return "the keyring is locked: unlock it (log in to the desktop, or gnome-keyring-daemon --unlock); rolecall keeps asking"
	case errors.Is(err, ErrTimeout):
		return s + ": answer the keyring's password prompt; rolecall keeps asking"
	case strings.Contains(s, "dbus-launch") || strings.Contains(s, "DBUS_SESSION_BUS_ADDRESS"):
		return "no D-Bus session bus: start rolecall inside a desktop session (or dbus-run-session)"
	case strings.Contains(s, "org.freedesktop.secrets"):
		return "no Secret Service on the session bus: install and start gnome-keyring (or KeePassXC with Secret Service)"
	}
	return s
}
