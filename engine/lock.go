package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
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

// Release gives the lock up.
func (l *instanceLock) Release() {
	if l == nil {
		return
	}
	unlockFile(l.f)
	l.f.Close()
}
