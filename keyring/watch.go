package keyring

import (
	"errors"
	"time"
)

// Answers returns a channel that receives a value when the OS keyring
// answers again after it was locked or did not answer (ErrLocked,
// ErrTimeout): what waited for it (an SSO session's token) can be fetched
// now rather than at its next retry. While the keyring is in that state,
// the keyring itself asks it every retry interval (a read of one entry)
// until it answers. The channel holds one value; Close stops the asking.
func (k *Keyring) Answers() <-chan struct{} { return k.answers }

// noteCallLocked records the outcome of an OS keyring call: it signals
// Answers when a call succeeds after a locked or silent keyring, and
// starts the probe loop when the keyring just went silent or locked.
// k.mu is held.
func (k *Keyring) noteCallLocked(err error) {
	stuck := errors.Is(err, ErrLocked) || errors.Is(err, ErrTimeout)
	wasStuck := errors.Is(k.lastErr, ErrLocked) || errors.Is(k.lastErr, ErrTimeout)
	if err == nil || errors.Is(err, ErrNotFound) {
		k.lastErr = nil
	} else {
		k.lastErr = err
	}
	switch {
	case wasStuck && k.lastErr == nil:
		select {
		case k.answers <- struct{}{}:
		default:
		}
	case stuck && !k.probing:
		select {
		case <-k.closed:
			return
		default:
		}
		k.probing = true
		k.loops.Add(1)
		go k.probeLoop()
	}
}

// probeLoop asks the keyring every retry interval until it answers (or
// the keyring is closed).
func (k *Keyring) probeLoop() {
	defer k.loops.Done()
	for {
		select {
		case <-k.closed:
			k.mu.Lock()
			k.probing = false
			k.mu.Unlock()
			return
		case <-time.After(k.retry):
		}
		k.call(func() (string, error) { return k.backend.Get(k.service, "probe") })
		k.mu.Lock()
		stuck := errors.Is(k.lastErr, ErrLocked) || errors.Is(k.lastErr, ErrTimeout)
		if !stuck {
			k.probing = false
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
	}
}
