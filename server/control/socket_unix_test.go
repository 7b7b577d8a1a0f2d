//go:build unix

package control

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSocketIsPrivate: the socket is 0600 in a 0700 directory, and a
// directory that others may enter is narrowed.
func TestSocketIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rolecall")
	os.Mkdir(dir, 0o755)
	path := filepath.Join(dir, "control.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %v", p, st.Mode().Perm(), err, want)
		}
	}
}
