package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestTarballInstall: the Linux tarball (the files build/dist.sh puts in
// it) installs with its own install.sh, and the menu entry it writes
// starts the installed binary by its full path, not by whatever `rolecall`
// the desktop's PATH finds (~/.local/bin is on it only from the next
// login on).
func TestTarballInstall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the tarball is Linux's")
	}
	dist, err := os.ReadFile("build/dist.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*cp (build/linux/\S+(?: build/linux/\S+)*) README.md "\$d/"$`).FindSubmatch(dist)
	if m == nil {
		t.Fatal("build/dist.sh: no cp line for the Linux tarball's files")
	}
	tarball := t.TempDir()
	for _, f := range strings.Fields(string(m[1])) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(tarball, filepath.Base(f)), b, 0o755)
	}
	os.WriteFile(filepath.Join(tarball, "rolecall"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(tarball, "rolecall.png"), []byte("png"), 0o644)
	if _, err := os.Stat(filepath.Join(tarball, "install.sh")); err != nil {
		t.Fatalf("the tarball has no install.sh: %v", err)
	}
	prefix := filepath.Join(t.TempDir(), "home", ".local")
	cmd := exec.Command("sh", "./install.sh")
	cmd.Dir = tarball
	cmd.Env = append(os.Environ(), "PREFIX="+prefix)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("./install.sh: %v\n%s", err, out)
	}
	desktop, err := os.ReadFile(filepath.Join(prefix, "share/applications/rolecall.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "\nExec=" + prefix + "/bin/rolecall\n"; !strings.Contains(string(desktop), want) {
		t.Errorf("menu entry's Exec is not the installed binary's full path %q:\n%s", want, desktop)
	}
	for _, f := range []string{"bin/rolecall", "share/icons/hicolor/256x256/apps/rolecall.png"} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
}
