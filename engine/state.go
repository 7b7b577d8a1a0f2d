package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/private"
)

// stateFileName is the file, in the state dir, that keeps what a restart
// must not forget besides the pins (which live in the settings file).
const stateFileName = "state.json"

// remembered is what state.json holds.
type remembered struct {
	// Default is the profile of the default slot; empty: none loaded.
	Default string `json:"default,omitempty"`
	// Recent are the recently used roles, most recent first.
	Recent []string `json:"recent"`
	// Unloaded are the named slots the user unloaded (creds'
	// Manager.Unloaded): not loaded on demand, also after a restart,
	// until the user loads them.
	Unloaded []string `json:"unloaded,omitempty"`
}

// savedState owns state.json: it is its only reader and writer. The file
// is written whole (private.WriteFile: temp file, then rename;
// 0600 or an owner-only ACL), so a crash leaves the old file or the new
// one, never half of one.
type savedState struct {
	path string
	log  *slog.Logger

	mu   sync.Mutex
	last remembered
}

// openState reads state.json in dir; a missing or unreadable file is an
// empty state (an unreadable one is logged and replaced at the next save).
// Temp files that a crash left behind are removed.
func openState(dir string, log *slog.Logger) (*savedState, remembered) {
	s := &savedState{path: filepath.Join(dir, stateFileName), log: log}
	removeTemps(dir, "."+stateFileName+"-*", log) // private.WriteFile's temp files
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		log.Warn("state file unreadable: the default slot and recent roles start empty", "file", s.path, "err", err)
	default:
		if err := json.Unmarshal(b, &s.last); err != nil {
			log.Warn("state file damaged: the default slot and recent roles start empty", "file", s.path, "err", err)
			s.last = remembered{}
		}
	}
	return s, remembered{Default: s.last.Default, Recent: slices.Clone(s.last.Recent), Unloaded: slices.Clone(s.last.Unloaded)}
}

// Save writes v unless the file already holds it.
func (s *savedState) Save(v remembered) error {
	if v.Recent == nil {
		v.Recent = []string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.Default == s.last.Default && slices.Equal(v.Recent, s.last.Recent) && slices.Equal(v.Unloaded, s.last.Unloaded) {
		return nil
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := private.WriteFile(s.path, append(b, '\n')); err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	s.last = remembered{Default: v.Default, Recent: slices.Clone(v.Recent), Unloaded: slices.Clone(v.Unloaded)}
	return nil
}

// keepState saves state.json whenever the default slot, the recent roles
// or the slots the user unloaded change, until the engine stops; a role that lands in the default slot
// counts as recently used. It starts after the engine restored
// the remembered default slot, so it never saves an empty one over it.
func (e *Engine) keepState() {
	defer e.wg.Done()
	events, stop := e.manager.Subscribe()
	defer stop()
	used := ""
	for {
		var v remembered
		if d := e.manager.Snapshot().Default; d != nil {
			v.Default = d.Profile.Name
			if d.State == creds.StateOK && d.Profile.Name != used {
				// A role put into the default slot by any means (menu,
				// `rolecall load`) is a recently used one.
				used = d.Profile.Name
				e.recent.Used(used)
			}
		}
		v.Recent = e.recent.List()
		v.Unloaded = e.manager.Unloaded()
		if len(v.Unloaded) == 0 {
			v.Unloaded = nil
		}
		if err := e.state.Save(v); err != nil {
			e.log.Warn("the default slot, recent roles and unloaded slots were not saved; they are kept in memory", "err", err)
		}
		select {
		case <-events:
		case <-e.saveState:
		case <-e.ctx.Done():
			return
		}
	}
}

// removeTemps removes the temp files matching pattern in dir that a write
// killed mid-way (kill -9, power loss) left behind. Only called while the
// instance lock is held, when no other writer can be at work.
func removeTemps(dir, pattern string, log *slog.Logger) {
	names, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, n := range names {
		if err := os.Remove(n); err != nil {
			log.Warn("left-over temp file not removed", "file", n, "err", err)
			continue
		}
		log.Info("removed a temp file left by an interrupted write", "file", n)
	}
}
