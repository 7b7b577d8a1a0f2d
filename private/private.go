// Package private writes, opens and checks files that only the current
// user may read or write: mode 0600 on Unix, an owner-only ACL on Windows.
// Files that hold secrets (the bearer token file, state.json, the audit log,
// the AWS CLI cache write-back) go through it. It imports nothing of the
// module.
package private

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces the file at path with data, atomically (a
// reader sees the old file or the new one, never half of it), readable and
// writable by the current user only: mode 0600 on Unix, an ACL granting
// only the current user on Windows. Files that hold secrets (the bearer
// token file, the AWS CLI cache write-back) are written with it. The
// directory is created 0700 when missing.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := createPrivateTemp(dir, "."+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// OpenFile opens path with flag (os.O_APPEND|os.O_CREATE|... as for
// os.OpenFile) so that only the current user can read or write it: a file
// it creates is private from its creation, and an existing one is made
// private. The audit log is opened with it.
func OpenFile(path string, flag int) (*os.File, error) {
	return openPrivate(path, flag)
}

// Dir makes the directory at path the current user's alone: created 0700
// when missing (with create), and narrowed to 0700 when it is looser (a
// state directory left 0777 lets another user plant a symlink in it).
// Tightened reports that it was narrowed. A directory of another user, or
// a symlink where the directory should be, is an error. On Windows the
// directory is only created: the files in it carry owner-only ACLs.
func Dir(path string, create bool) (tightened bool, err error) {
	return privateDir(path, create)
}

// Check returns nil when the file at path belongs to the current
// user and nobody else may read or write it (Unix: mode bits; Windows: the
// owner and the ACL), else an error saying why.
func Check(path string) error {
	return checkPrivate(path)
}

// createPrivateTemp creates a new private file in dir named prefix-RANDOM.
func createPrivateTemp(dir, prefix string) (*os.File, error) {
	for range 10 {
		var b [8]byte
		rand.Read(b[:])
		f, err := openPrivate(filepath.Join(dir, prefix+"-"+hex.EncodeToString(b[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("create a temporary file in %s: too many tries", dir)
}
