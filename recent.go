package main

import (
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"sync"
)

// recentMax is how many recently used roles are remembered.
const recentMax = 10

// recent owns the list of recently used roles, most recent first, kept in
// the state dir across restarts (path; empty: in memory only).
type recent struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	names []string
}

// newRecent loads the list saved at path, if any.
func newRecent(path string, log *slog.Logger) *recent {
	r := &recent{path: path, log: log}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &r.names); err != nil {
			log.Warn("recent roles unreadable: starting afresh", "file", path, "err", err)
			r.names = nil
		}
		r.names = r.names[:min(len(r.names), recentMax)]
	}
	return r
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
	if r.path == "" {
		return
	}
	b, _ := json.Marshal(r.names)
	if err := writeFileAtomic(r.path, b); err != nil {
		r.log.Warn("recent roles not saved", "file", r.path, "err", err)
	}
}

// List returns the names, most recent first.
func (r *recent) List() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.names)
}
