package keyring

import "log/slog"

// Open returns a keyring for service like New, for a process that reads
// it often (rolecall serve): on Linux its reads go through one Secret
// Service session kept open until Close, two D-Bus round trips for an
// unlocked entry instead of go-keyring's seven, and a kept session that
// stopped working (gnome-keyring restarted, the bus reconnected) is
// dropped, that read made the way go-keyring makes it, and the next read
// opens a new session. Writes, and reads of a locked keyring (its unlock
// prompt, ErrLocked), are go-keyring's as in New. Elsewhere Open is New.
// Tests that replace go-keyring with its mock (gokeyring.MockInit) use
// New: an Open keyring talks to the Secret Service itself.
func Open(service string, log *slog.Logger) *Keyring {
	k := New(service, log)
	k.backend = osBackend(k.log)
	return k
}

// warmer is a backend that can open ahead of the first call what that
// call would otherwise open (a connection, a session).
type warmer interface{ warm() error }

// sessionCloser is a backend that keeps something open between calls,
// closed by Keyring.Close.
type sessionCloser interface{ close() error }

// Warm opens in the background, within the keyring's timeout and taking
// its turn like any call, what the first read would otherwise pay for: on
// Linux with Open, the session bus connection (shared with go-keyring's
// own calls) and the Secret Service session. A failure is logged at debug
// level only: the read that needs the keyring reports it. Without such a
// backend (New, NewWith) or after Close it does nothing; Close waits for
// it.
func (k *Keyring) Warm() {
	w, ok := k.backend.(warmer)
	if !ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	select {
	case <-k.closed:
		return
	default:
	}
	k.loops.Add(1)
	go func() {
		defer k.loops.Done()
		if _, err := k.bounded(func() (string, error) { return "", w.warm() }); err != nil {
			k.log.Debug("keyring: could not open the connection ahead of the first read", "err", err)
		}
	}()
}

// closeBackend closes what the backend keeps open between calls, within
// the keyring's timeout.
func (k *Keyring) closeBackend() {
	c, ok := k.backend.(sessionCloser)
	if !ok {
		return
	}
	if _, err := k.bounded(func() (string, error) { return "", c.close() }); err != nil {
		k.log.Debug("keyring: could not close the Secret Service session", "err", err)
	}
}
