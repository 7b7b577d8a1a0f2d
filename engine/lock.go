package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/private"
)

// lockFileName is the instance lock in the state dir.
const lockFileName = "instance.lock"

// errLocked: another process holds the instance lock.
var errLocked = errors.New("locked")

// instanceLock is held for the life of the process: one rolecall per
// state dir, whatever XDG_RUNTIME_DIR or ROLECALL_SOCKET say (two would
// share the token file and the audit log). The OS releases it when the
// process ends, kill -9 included.
type instanceLock struct{ f *os.File }

// lockInstance takes the lock in stateDir, or says who holds it and what
// to do.
func lockInstance(stateDir string) (*instanceLock, error) {
	// The state dir is the user's alone (0700, narrowed when looser), and
	// the lock file is opened without following a symlink: another user
	// cannot plant one there.
	if _, err := private.Dir(stateDir, true); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	path := filepath.Join(stateDir, lockFileName)
	f, err := private.OpenFile(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, fmt.Errorf("instance lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("instance lock %s: %w", path, err)
		}
		pid := 0
		if b, _ := os.ReadFile(path); len(b) > 0 {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return nil, creds.Errorf(creds.InstanceLocked, err, pid, path)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &instanceLock{f: f}, nil
}

// privateFiles narrows what other users could read or change: the state
// and config directories to 0700, config.toml to 0600 (earlier versions
// made them 0755 and 0644). It runs before lockInstance, which creates
// the state dir when missing.
func (e *Engine) privateFiles() {
	dirs := []string{e.cfg.StateDir}
	if e.cfg.SettingsPath != "" {
		dirs = append(dirs, filepath.Dir(e.cfg.SettingsPath))
	}
	for _, d := range dirs {
		if tightened, err := private.Dir(d, false); err != nil {
			e.log.Warn("a directory of rolecall's is not private", "dir", d, "err", err)
		} else if tightened {
			e.log.Warn("a directory of rolecall's was open to other users: narrowed to 0700", "dir", d)
		}
	}
	if e.cfg.SettingsPath == "" {
		return
	}
	if st, err := os.Stat(e.cfg.SettingsPath); err == nil && st.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		if err := os.Chmod(e.cfg.SettingsPath, 0o600); err == nil {
			e.log.Warn("config.toml was readable by other users: narrowed to 0600", "file", e.cfg.SettingsPath)
		}
	}
}

// Release gives the lock up.
func (l *instanceLock) Release() {
	if l == nil {
		return
	}
	unlockFile(l.f)
	l.f.Close()
}
