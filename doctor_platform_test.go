package main

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/server/control"
)

// TestDoctorFixesNameThisSystem: the control channel's fix names this
// system's own place: the named pipe on Windows, the socket's directory
// elsewhere (never $XDG_RUNTIME_DIR on Windows).
func TestDoctorFixesNameThisSystem(t *testing.T) {
	t.Setenv(control.SocketEnv, "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(t.TempDir(), "run"))
	fix := controlFix()
	path, _ := control.SocketPath()
	if runtime.GOOS == "windows" {
		if !strings.Contains(fix, `named pipe \\.\pipe\rolecall-`) || strings.Contains(fix, "XDG") {
			t.Errorf("control fix on Windows: %q", fix)
		}
	} else if !strings.Contains(fix, filepath.Dir(path)) {
		t.Errorf("control fix %q does not name %s", fix, filepath.Dir(path))
	}
	t.Setenv("ROLECALL_CONFIG", filepath.Join(t.TempDir(), "my.toml"))
	if got := settingsPathText(); !strings.HasSuffix(got, "my.toml") {
		t.Errorf("settings path in the port fix: %q", got)
	}
}
