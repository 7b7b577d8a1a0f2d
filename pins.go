package main

import (
	"slices"
	"sync"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/settings"
)

// pins owns the set of pinned slots: the names in the settings file's
// `pinned` key. It is edited one name at a time and written back with the
// user's other lines kept; it is never rebuilt from the slots that happen
// to be loaded, so a pin that could not be restored (offline, signed out)
// is not lost.
type pins struct {
	path string // the settings file
	key  string // its key: "pinned" (or "favorites": the same kind of set)

	mu    sync.Mutex
	names []string
}

func newPins(path string, names []string) *pins {
	return &pins{path: path, key: "pinned", names: slices.Clone(names)}
}

// newFavorites owns the starred roles, the settings file's `favorites`.
func newFavorites(path string, names []string) *pins {
	return &pins{path: path, key: "favorites", names: slices.Clone(names)}
}

// List returns the pinned names in the file's order.
func (p *pins) List() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.names)
}

// Has reports whether name is pinned.
func (p *pins) Has(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.names, name)
}

// Set pins or unpins name and saves the set; on a write error the set is
// left as it was.
func (p *pins) Set(name string, pinned bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.names, name) == pinned {
		return nil
	}
	next := slices.DeleteFunc(slices.Clone(p.names), func(s string) bool { return s == name })
	if pinned {
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
	pins *pins // nil: nothing is pinned
}

// Unload empties slot; a named slot stops being pinned.
func (s slotsWithPins) Unload(slot string) error {
	if err := s.Manager.Unload(slot); err != nil {
		return err
	}
	if slot == creds.DefaultSlot || s.pins == nil {
		return nil
	}
	return s.pins.Set(slot, false)
}
