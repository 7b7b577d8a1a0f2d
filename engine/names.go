package engine

import (
	"fmt"
	"slices"
	"sync"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/settings"
)

// names owns a set of names kept in one key of the settings file: the
// pinned slots (`pinned`) and the starred roles (`favorites`). It is
// edited one name at a time and written back with the user's other lines
// kept; it is never rebuilt from the slots that happen to be loaded, so a
// pin that could not be restored (offline, signed out) is not lost.
type names struct {
	path string // the settings file
	key  string // its key: "pinned" or "favorites"

	mu    sync.Mutex
	names []string
}

// Keys of the settings file that hold a set of names.
const (
	keyPinned    = "pinned"
	keyFavorites = "favorites"
)

func newNames(path, key string, list []string) *names {
	return &names{path: path, key: key, names: slices.Clone(list)}
}

// List returns the names in the file's order.
func (p *names) List() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.names)
}

// Has reports whether name is in the set.
func (p *names) Has(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.names, name)
}

// Set adds or removes name in the set as the settings file holds it now
// (names added or removed there by hand while rolecall runs are kept) and
// takes the file's list as the set; on a write error (a file that does not
// parse) nothing changes and the error says why.
func (p *names) Set(name string, on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	next, err := settings.EditNames(p.path, p.key, func(list []string) []string {
		list = slices.DeleteFunc(list, func(s string) bool { return s == name })
		if on {
			list = append(list, name)
		}
		return list
	})
	if err != nil {
		return err
	}
	p.names = next
	return nil
}

// slotsWithPins is the manager as the control channel and the menu change
// it: unloading a named slot also unpins it (or it would come back at the
// next start), and a logout keeps the pinned slots, emptied, for the next
// login. The pins themselves are written by pins only.
type slotsWithPins struct {
	*creds.Manager
	pins      *names               // the pinned ones
	signedOut func(session string) // after the manager's SignOut
}

// slots is the manager as the control channel and the menu change it.
func (e *Engine) slots() slotsWithPins {
	return slotsWithPins{Manager: e.manager, pins: e.pinned, signedOut: e.signedOut}
}

// SignOut empties the slots of session after a logout, then the engine
// keeps the sign-out (signedOut).
func (s slotsWithPins) SignOut(session string) []string {
	unloaded := s.Manager.SignOut(session)
	s.signedOut(session)
	return unloaded
}

// signedOut makes a logout of session hold across a restart before the
// logout is answered: the credentials kept of it in the keyring are
// deleted, and the sign-out is saved in state.json (the manager does not
// carry over credentials issued before it, also when a delete did not
// land: the keyring locked, or rolecall stopped before it retried).
func (e *Engine) signedOut(session string) {
	e.carrier.forget(session)
	if err := e.saveStateNow(); err != nil {
		e.log.Warn("the logout was not saved: credentials kept in the keyring could come back at the next start until deleted",
			"session", session, "err", err)
	}
}

// Unload empties slot; a named slot stops being pinned. The pin goes
// first: a pinned slot whose pin cannot be removed (the settings file
// does not parse) is not unloaded, and the error says why, rather than
// unloaded now and back at the next start. A failed unload puts the pin
// back.
func (s slotsWithPins) Unload(slot string) error {
	if slot == creds.DefaultSlot {
		return s.Manager.Unload(slot)
	}
	pinned := s.pins.Has(slot)
	if err := s.pins.Set(slot, false); err != nil && pinned {
		return fmt.Errorf("%s not unloaded: it is pinned and the pin cannot be removed: %w", slot, err)
	}
	if err := s.Manager.Unload(slot); err != nil {
		if pinned {
			s.pins.Set(slot, true)
		}
		return err
	}
	return nil
}
