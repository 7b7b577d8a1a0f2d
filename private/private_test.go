package private

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWritePrivateFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "new-dir", "token")
	for _, data := range []string{"first-token", "second"} {
		if err := WriteFile(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != data {
			t.Errorf("read back %q, %v; want %q", b, err, data)
		}
		if err := Check(p); err != nil {
			t.Errorf("written file is not private: %v", err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestOpenPrivateFile(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "fresh.log")
	f, err := OpenFile(fresh, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := Check(fresh); err != nil {
		t.Errorf("created by OpenFile: %v", err)
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "missing"), os.O_RDONLY); err == nil {
		t.Error("opened a missing file without O_CREATE")
	}
	if err := Check(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("check of a missing file: %v", err)
	}
}

// TestOpenPrivateFileNarrowsAnOpenFile: a file that others could read is
// refused by Check, and OpenFile makes it private.
func TestOpenPrivateFileNarrowsAnOpenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Check(p); err == nil {
		t.Fatal("a file created with os.WriteFile(0644) passed Check")
	}
	if underWine() {
		t.Skip("wine keeps an existing file's ACL as its Unix mode and ignores SetNamedSecurityInfo: narrowing cannot be seen under wine")
	}
	f, err := OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new\n")
	f.Close()
	if err := Check(p); err != nil {
		t.Errorf("after OpenFile: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old\nnew\n" {
		t.Errorf("content %q", b)
	}
}
