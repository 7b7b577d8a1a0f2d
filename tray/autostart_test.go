//go:build linux

package tray

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAutostartLinux(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	file := filepath.Join(dir, "autostart", "rolecall.desktop")
	if on, err := AutostartEnabled(); on || err != nil {
		t.Fatalf("fresh: %v, %v", on, err)
	}
	if err := SetAutostart(true, "/opt/my apps/rolecall"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Exec=\"/opt/my apps/rolecall\"\n") || !strings.HasPrefix(string(b), "[Desktop Entry]\n") {
		t.Errorf(".desktop file:\n%s", b)
	}
	if on, _ := AutostartEnabled(); !on {
		t.Error("not enabled after SetAutostart(true)")
	}
	// The state is read from the system: a user disabling the entry in
	// their desktop's settings is seen.
	os.WriteFile(file, append(b, []byte("Hidden=true\n")...), 0o644)
	if on, _ := AutostartEnabled(); on {
		t.Error("Hidden=true entry reported enabled")
	}
	if err := SetAutostart(false, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("file left: %v", err)
	}
	if err := SetAutostart(false, ""); err != nil {
		t.Errorf("second off: %v", err)
	}
}
