//go:build !linux && !darwin && !freebsd && !openbsd && !netbsd && !dragonfly && !windows

package engine

import "os"

// No file lock here: the control socket alone tells a second instance.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
