package tray

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrAutostartUnsupported: this system has no start-at-login rolecall
// knows how to set.
var ErrAutostartUnsupported = errors.New("start at login is not supported on this system")

// AutostartEnabled reports whether rolecall starts at login, read from the
// system (the XDG autostart entry, the LaunchAgent, the Run key), never
// remembered.
func AutostartEnabled() (bool, error) { return autostartEnabled() }

// SetAutostart makes rolecall (the executable at exe; the running one when
// empty) start at login, or not.
func SetAutostart(on bool, exe string) error {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return err
		}
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
	}
	return setAutostart(on, exe)
}

// removeEntry deletes a start-at-login file; one already gone is fine.
func removeEntry(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}
