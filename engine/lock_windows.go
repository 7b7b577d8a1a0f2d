package engine

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockRange is a byte far past the pid the file holds: the lock keeps
// other processes from reading the range it covers, and they should be
// able to read the pid.
var lockRange = windows.Overlapped{OffsetHigh: 1}

func lockFile(f *os.File) error {
	ol := lockRange
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return errLocked
	}
	return err
}

func unlockFile(f *os.File) {
	ol := lockRange
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
}
