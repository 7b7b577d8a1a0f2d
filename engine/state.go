package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

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
	// SignedOut are the sessions logged out and when (creds'
	// Manager.SignedOut): credentials issued before are not carried over
	// a restart, even when their keyring entries could not be deleted.
	SignedOut map[string]time.Time `json:"signed_out,omitempty"`
}

// clone is r with slices and maps of its own.
func (r remembered) clone() remembered {
	r.Recent, r.Unloaded, r.SignedOut = slices.Clone(r.Recent), slices.Clone(r.Unloaded), maps.Clone(r.SignedOut)
	return r
}

// savedState owns state.json: it is its only reader and writer. The file
// is written whole (private.WriteFile: temp file, then rename;
// 0600 or an owner-only ACL), so a crash leaves the old file or the new
// one, never half of one.
type savedState struct {
	path string
	log  *slog.Logger

	mu       sync.Mutex
	last     remembered
	lastUsed string // the default slot's profile last counted as used
}

// used counts profile as recently used once per stay in the default slot.
func (s *savedState) used(profile string, r *recent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if profile != s.lastUsed {
		s.lastUsed = profile
		r.Used(profile)
	}
}

// maxStateSize bounds state.json: it holds a profile name and ten recent
// ones. A larger file is not read (a 45 MiB one cost 297 MiB and 5 s at
// start) but put aside.
const maxStateSize = 64 << 10

// openState reads state.json in dir; a missing or unreadable file is an
// empty state (an unreadable one is logged and replaced at the next save).
// A state.json that is not a small regular file (a directory, a huge
// file) is moved aside to state.json.broken, so that the next save can
// write one. Temp files that a crash left behind are removed.
func openState(dir string, log *slog.Logger) (*savedState, remembered) {
	s := &savedState{path: filepath.Join(dir, stateFileName), log: log}
	removeTemps(dir, "."+stateFileName+"-*", log) // private.WriteFile's temp files
	b, err := readState(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, errStateNotAFile):
		aside := s.path + ".broken"
		os.RemoveAll(aside)
		if rerr := os.Rename(s.path, aside); rerr != nil {
			log.Warn("state file unusable and not moved aside: the default slot and recent roles start empty", "file", s.path, "err", err, "move_err", rerr)
		} else {
			log.Warn("state file unusable, moved aside: the default slot and recent roles start empty", "file", s.path, "moved_to", aside, "err", err)
		}
	case err != nil:
		log.Warn("state file unreadable: the default slot and recent roles start empty", "file", s.path, "err", err)
	default:
		if err := json.Unmarshal(b, &s.last); err != nil {
			log.Warn("state file damaged: the default slot and recent roles start empty", "file", s.path, "err", err)
			s.last = remembered{}
		}
	}
	return s, s.last.clone()
}

// errStateNotAFile: state.json is a directory, a device, or too large.
var errStateNotAFile = errors.New("not a small regular file")

// readState reads path when it is a regular file of at most maxStateSize
// (checked on the open file, and the read bounded too).
func readState(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxStateSize {
		return nil, fmt.Errorf("%s: %w (%v, %d bytes)", path, errStateNotAFile, st.Mode().Type(), st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err == nil && len(b) > maxStateSize {
		err = fmt.Errorf("%s: %w (grew while read)", path, errStateNotAFile)
	}
	return b, err
}

// Save writes v unless the file already holds it.
func (s *savedState) Save(v remembered) error {
	if v.Recent == nil {
		v.Recent = []string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.Default == s.last.Default && slices.Equal(v.Recent, s.last.Recent) && slices.Equal(v.Unloaded, s.last.Unloaded) &&
		maps.EqualFunc(v.SignedOut, s.last.SignedOut, time.Time.Equal) {
		return nil
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := private.WriteFile(s.path, append(b, '\n')); err != nil {
		return fmt.Errorf("save %s: %w", s.path, err)
	}
	s.last = v.clone()
	return nil
}

// keepState saves state.json whenever the default slot, the recent roles
// or the slots the user unloaded change, until the engine stops, and once more then: a switch made
// just before quitting is not lost. A role that lands in the default slot
// counts as recently used. It starts after the engine restored the
// remembered default slot, so it never saves an empty one over it.
func (e *Engine) keepState() {
	defer e.wg.Done()
	events, stop := e.manager.Subscribe()
	defer stop()
	for {
		if err := e.saveStateNow(); err != nil {
			e.log.Warn("the default slot, recent roles and unloaded slots were not saved; they are kept in memory", "err", err)
		}
		select {
		case <-events:
		case <-e.saveState:
		case <-e.ctx.Done():
			if err := e.saveStateNow(); err != nil {
				e.log.Warn("the default slot and recent roles were not saved at quit", "err", err)
			}
			return
		}
	}
}

// saveStateNow saves the default slot's profile, the recent roles and the
// slots the user unloaded as they are now; a role in the default slot counts as recently used.
func (e *Engine) saveStateNow() error {
	var v remembered
	if d := e.manager.Snapshot().Default; d != nil {
		v.Default = d.Profile.Name
		if d.State == creds.StateOK {
			// A role put into the default slot by any means (menu,
			// `rolecall load`) is a recently used one.
			e.state.used(v.Default, e.recent)
		}
	}
	v.Recent = e.recent.List()
	if u := e.manager.Unloaded(); len(u) > 0 {
		v.Unloaded = u
	}
	if out := e.manager.SignedOut(); len(out) > 0 {
		v.SignedOut = out
	}
	return e.state.Save(v)
}

// saveLoad is the control channel's Save: a load into the default slot is
// in state.json before the CLI is told it is done.
func (e *Engine) saveLoad(slot string) error {
	if slot != creds.DefaultSlot {
		return nil
	}
	return e.saveStateNow()
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
