package engine

import (
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

// Set adds or removes name and saves the set; on a write error the set is
// left as it was.
func (p *names) Set(name string, on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.names, name) == on {
		return nil
	}
	next := slices.DeleteFunc(slices.Clone(p.names), func(s string) bool { return s == name })
	if on {
		next = append(next, name)
	}
	if err := settings.Set(p.path, p.key, nonNil(next)); err != nil {
		return err
	}
	p.names = next
	return nil
}

// nonNil writes an empty list as [] rather than dropping the key.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// slotsWithPins is the manager as the control channel and the menu change
// it: unloading a named slot also unpins it (or it would come back at the
// next start), and a logout keeps the pinned slots, emptied, for the next
// login. The pins themselves are written by pins only.
type slotsWithPins struct {
	*creds.Manager
	pins *names // the pinned ones
}

// Unload empties slot; a named slot stops being pinned.
func (s slotsWithPins) Unload(slot string) error {
	if err := s.Manager.Unload(slot); err != nil {
		return err
	}
	if slot == creds.DefaultSlot {
		return nil
	}
	return s.pins.Set(slot, false)
}
