package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportArrows guards the package arrows of SPEC §1: main → everything;
// engine → creds, server, server/control, sso, keyring, settings, private,
// grants, handoff, remote (never tray, fyne, a browser or a notification package);
// remote (rolecall ssh) → creds; tray → creds, assets (tray/picker and handoff:
// leaves); server → creds, private; server/control →
// creds (the listener and the control channel never import each other);
// sso → creds, keyring, private; creds → nothing (and standard library
// only). keyring, settings, private and assets are leaves.
func TestImportArrows(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		// The arrows are the same on every system: where the Go toolchain
		// is (make test), they are checked.
		t.Skip("the go command is missing: the import arrows are read with go list")
	}
	const mod = "github.com/rolecall/rolecall"
	allowed := map[string][]string{
		"creds":          {},
		"engine":         {"creds", "server", "server/control", "sso", "keyring", "settings", "private", "grants", "handoff", "remote"},
		"grants":         {"creds", "private"},
		"containers":     {},
		"server":         {"creds", "private"},
		"server/control": {"creds"},
		"keyring":        {},
		"sso":            {"creds", "keyring", "private"},
		"tray":           {"creds", "assets"},
		"tray/picker":    {},
		"handoff":        {},
		"assets":         {},
		"settings":       {},
		"private":        {},
		"remote":         {"creds"},
	}
	// The engine runs without a UI: no systray, browser, notification or
	// clipboard package.
	uiModules := []string{"fyne.io/", "github.com/pkg/browser", "github.com/gen2brain/beeep", "github.com/atotto/clipboard"}
	for pkg, ok := range allowed {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", "./"+pkg).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "no Go files") || strings.Contains(string(out), "directory not found") || strings.Contains(string(out), "cannot find") || strings.Contains(string(out), "matched no packages") {
				continue // package not built yet
			}
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			path, std, _ := strings.Cut(line, " ")
			if path == mod+"/"+pkg {
				continue
			}
			if rel, inModule := strings.CutPrefix(path, mod+"/"); inModule {
				if !slices.Contains(ok, rel) {
					t.Errorf("%s imports %s: not an allowed arrow", pkg, rel)
				}
				continue
			}
			if pkg == "engine" && slices.ContainsFunc(uiModules, func(m string) bool { return strings.HasPrefix(path, m) }) {
				t.Errorf("engine imports %s: opening a URL, notifying and the clipboard are callbacks it is given", path)
			}
			if pkg == "creds" && std != "true" {
				t.Errorf("creds imports %s: it must use the standard library only", path)
			}
		}
	}
	// Test tools (internal/: the desktop session, the fake IAM Identity
	// Center) never reach the binary.
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, path := range strings.Fields(string(out)) {
		if strings.HasPrefix(path, mod+"/internal/") || strings.Contains(path, "testdata") {
			t.Errorf("the binary links the test tool %s", path)
		}
	}
}
