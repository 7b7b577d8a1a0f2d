package engine

import (
	"slices"
	"sync"
)

// recentMax is how many recently used roles are remembered.
const recentMax = 10

// recent owns the list of recently used roles, most recent first.
type recent struct {
	mu    sync.Mutex
	names []string
}

// Used puts name on top.
func (r *recent) Used(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = slices.DeleteFunc(r.names, func(s string) bool { return s == name })
	r.names = slices.Insert(r.names, 0, name)
	if len(r.names) > recentMax {
		r.names = r.names[:recentMax]
	}
}

// List returns the names, most recent first.
func (r *recent) List() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.names)
}
