//go:build !windows

package private

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// openPrivate never follows a symlink at path (O_NOFOLLOW): a link that
// another user planted (in a directory that was open to them) is refused,
// not written through.
func openPrivate(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link, which rolecall does not follow: remove it", path)
	}
	if err != nil {
		return nil, err
	}
	// A file that existed keeps its mode through OpenFile: narrow it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, not to you", path, sys.Uid)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is open to other users (mode %v)", path, st.Mode().Perm())
	}
	return nil
}

func privateDir(path string, create bool) (bool, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return false, err
		}
		st, err = os.Lstat(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !st.IsDir() {
		return false, fmt.Errorf("%s is not a directory (%v): rolecall keeps its files in a directory of its own there", path, st.Mode().Type())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return false, fmt.Errorf("%s belongs to uid %d, not to you", path, sys.Uid)
	}
	if st.Mode().Perm()&0o077 == 0 {
		return false, nil
	}
	if err := os.Chmod(path, 0o700); err != nil {
		return false, fmt.Errorf("%s is open to other users (mode %v) and could not be narrowed: %w", path, st.Mode().Perm(), err)
	}
	return true, nil
}
