package tray

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows/registry"
)

// TestAutostartWindows: run from rolecall-cli.exe, autostart registers the
// tray build rolecall.exe beside it in HKCU\...\Run; off removes it. The
// user's own value, if any, is put back afterwards.
func TestAutostartWindows(t *testing.T) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if old, _, err := k.GetStringValue("rolecall"); err == nil {
		t.Cleanup(func() { k.SetStringValue("rolecall", old) })
	} else if errors.Is(err, registry.ErrNotExist) {
		t.Cleanup(func() { k.DeleteValue("rolecall") })
	}
	dir := filepath.Join(t.TempDir(), "Program Files", "rolecall")
	os.MkdirAll(dir, 0o755)
	cli := filepath.Join(dir, "rolecall-cli.exe")
	for _, name := range []string{"rolecall-cli.exe", "rolecall.exe"} {
		os.WriteFile(filepath.Join(dir, name), []byte("MZ"), 0o755)
	}
	for _, tt := range []struct{ exe, want string }{
		{cli, `"` + filepath.Join(dir, "rolecall.exe") + `"`},
		{filepath.Join(dir, "rolecall.exe"), `"` + filepath.Join(dir, "rolecall.exe") + `"`},
	} {
		if err := SetAutostart(true, tt.exe); err != nil {
			t.Fatal(err)
		}
		if got, _, err := k.GetStringValue("rolecall"); got != tt.want {
			t.Errorf("from %s: Run value %q, %v; want %q", filepath.Base(tt.exe), got, err, tt.want)
		}
		if on, err := AutostartEnabled(); !on || err != nil {
			t.Errorf("enabled: %v, %v", on, err)
		}
	}
	// Alone, the console build is what there is to start.
	os.Remove(filepath.Join(dir, "rolecall.exe"))
	SetAutostart(true, cli)
	if got, _, _ := k.GetStringValue("rolecall"); got != `"`+cli+`"` {
		t.Errorf("rolecall-cli.exe alone: Run value %q", got)
	}
	if err := SetAutostart(false, ""); err != nil {
		t.Fatal(err)
	}
	if on, err := AutostartEnabled(); on || err != nil {
		t.Errorf("after off: %v, %v", on, err)
	}
}
