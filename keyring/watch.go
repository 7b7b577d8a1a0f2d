package keyring

import (
	"errors"
	"fmt"
	"time"
)

// Answers returns a channel that receives a value when the OS keyring
// answers again after it was missing, locked or did not answer
// (ErrNoKeyring, ErrLocked, ErrTimeout): what waited for it (an SSO
// session's token) can be fetched now rather than at its next retry.
// While the keyring is in such a state, the keyring itself asks it every
// retry interval (a read of one entry) until it answers. The channel
// holds one value; Close stops the asking.
func (k *Keyring) Answers() <-chan struct{} { return k.answers }

// notAnswering: err means the OS keyring cannot be used now, and asking it
// again at once would not change that.
func notAnswering(err error) bool {
	return errors.Is(err, ErrLocked) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrNoKeyring)
}

// notAnsweringLocked is the state the keyring was last seen in when it
// cannot be used now (the probe loop then asks it), or nil. k.mu is held.
func (k *Keyring) notAnsweringLocked() error {
	if !notAnswering(k.lastErr) {
		return nil
	}
	return fmt.Errorf("%w (rolecall asks it again every %v)", k.lastErr, k.retry)
}

// noteCallLocked records the outcome of an OS keyring call: when a call
// succeeds after a missing, locked or silent keyring it counts an epoch,
// signals Answers and lets the pending writes go; when the keyring just
// went missing, locked or silent it starts the probe loop. k.mu is held.
func (k *Keyring) noteCallLocked(err error) {
	stuck := notAnswering(err)
	wasStuck := notAnswering(k.lastErr)
	if err == nil || errors.Is(err, ErrNotFound) {
		k.lastErr = nil
	} else {
		k.lastErr = err
	}
	missing := errors.Is(err, ErrNoKeyring)
	if missing && !k.absent.Load() {
		k.reason = err
		k.log.Warn("no OS keyring: secrets are kept in memory and saved when it appears (rolecall keeps looking)",
			"reason", ErrorMessage(err))
	}
	if !missing && k.absent.Load() && !stuck {
		k.log.Info("the OS keyring is there now: the secrets kept in memory are saved in it")
	}
	if !stuck || missing {
		k.absent.Store(missing)
	}
	switch {
	case wasStuck && k.lastErr == nil:
		k.epoch++
		select {
		case k.answers <- struct{}{}:
		default:
		}
		if len(k.pending) > 0 {
			k.startRetryLocked()
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
		if !k.probe() {
			return
		}
	}
}

// probe asks the OS keyring once (bypassing what is known of its state);
// false when it answered and the probe loop ends.
func (k *Keyring) probe() bool {
	k.call(func() (string, error) { return k.backend.Get(k.service, "probe") })
	k.mu.Lock()
	defer k.mu.Unlock()
	if !notAnswering(k.lastErr) {
		k.probing = false
		return false
	}
	return true
}
