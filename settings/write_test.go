package settings

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSetKeepsHandEdits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.toml")
	orig := `# my settings
port = 4200 # not the default

pinned = [
  "dev",   # the one I use
  "prod",
]
# keep IMDS off
imds = false
`
	os.WriteFile(p, []byte(orig), 0o640)
	if err := Set(p, "pinned", []string{"dev", `we"ird`}); err != nil {
		t.Fatal(err)
	}
	if err := Set(p, "notify_before", []string{"10m"}); err != nil {
		t.Fatal(err)
	}
	if err := Set(p, "imds", true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := `# my settings
port = 4200 # not the default

pinned = ["dev", "we\"ird"]
# keep IMDS off
imds = true
notify_before = ["10m"]
`
	if string(b) != want {
		t.Errorf("file:\n%s\nwant:\n%s", b, want)
	}
	s, err := Load(p)
	if err != nil || !reflect.DeepEqual(s.Pinned, []string{"dev", `we"ird`}) || !s.IMDS || s.Port != 4200 {
		t.Errorf("reloaded %+v, %v", s, err)
	}
	// Written owner-only, also when it was readable by others (0640
	// here). Windows has no mode bits: Go reports 0666 for every writable
	// file.
	if st, _ := os.Stat(p); runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode after a write: %v, want 0600", st.Mode().Perm())
	}
}

// TestEditNamesKeepsHandEdits: rolecall read pinned = ["dev"] at start;
// the user adds "qa" by hand while it runs; pinning "ops" then keeps
// "qa" (the file's list is edited, not the one read at start), and
// unpinning "dev" removes only "dev".
func TestEditNamesKeepsHandEdits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(p, []byte("pinned = [\"dev\"]\n"), 0o600)
	os.WriteFile(p, []byte("pinned = [\"dev\", \"qa\"] # added by hand\n"), 0o600)
	got, err := EditNames(p, "pinned", func(n []string) []string { return append(n, "ops") })
	if err != nil || !reflect.DeepEqual(got, []string{"dev", "qa", "ops"}) {
		t.Fatalf("pin ops: %q, %v", got, err)
	}
	got, err = EditNames(p, "pinned", func(n []string) []string {
		return slices.DeleteFunc(n, func(s string) bool { return s == "dev" })
	})
	if err != nil || !reflect.DeepEqual(got, []string{"qa", "ops"}) {
		t.Fatalf("unpin dev: %q, %v", got, err)
	}
	if s, err := Load(p); err != nil || !reflect.DeepEqual(s.Pinned, []string{"qa", "ops"}) {
		t.Errorf("file holds %q, %v", s.Pinned, err)
	}
	got, err = EditNames(p, "favorites", func([]string) []string { return nil })
	if err != nil || got == nil || !strings.Contains(mustRead(t, p), "favorites = []") {
		t.Errorf("an empty list: %q, %v (file %q)", got, err, mustRead(t, p))
	}
	// A file that does not parse: nothing written, the error says where.
	broken := "pinned = [\"qa\"\n"
	os.WriteFile(p, []byte(broken), 0o600)
	if _, err := EditNames(p, "pinned", func(n []string) []string { return nil }); err == nil || !strings.Contains(err.Error(), "config.toml:1:") {
		t.Errorf("edit of a broken file: %v, want an error naming the line", err)
	}
	if mustRead(t, p) != broken {
		t.Error("the broken file was changed")
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetRefusesBrokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.toml")
	broken := "pinned = [\"dev\"\n"
	os.WriteFile(p, []byte(broken), 0o600)
	if err := Set(p, "pinned", []string{"x"}); err == nil || !strings.Contains(err.Error(), "fix it first") {
		t.Errorf("Set on a broken file: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != broken {
		t.Error("broken file changed")
	}
	if err := Set(filepath.Join(t.TempDir(), "new", "config.toml"), "pinned", []string{"a"}); err != nil {
		t.Errorf("Set creating the file: %v", err)
	}
	if err := Set(p, "nope", 1); err == nil {
		t.Error("unknown key written")
	}
}

// TestSetConcurrentKeysKeepEachOther: owners writing different keys at
// the same time (a pin from the tray, a star from the picker, a toggle)
// keep each other's changes: every round starts from an empty file and
// writes eight keys at once; all eight must be there.
func TestSetConcurrentKeysKeepEachOther(t *testing.T) {
	writes := map[string]any{
		"pinned": []string{"p"}, "favorites": []string{"f"}, "imds": true, "imds_v1": true,
		"cli_cache_writeback": true, "audit_log": false, "same_user_only": false, "slots_on_demand": false,
	}
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "config.toml")
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k, v := range writes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := Set(path, k, v); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		b, _ := os.ReadFile(path)
		if n := strings.Count(string(b), " = "); n != len(writes) {
			t.Fatalf("round %d: %d of %d keys kept: a write undid another\n%s", round, n, len(writes), b)
		}
	}
}

// TestRemoveTempsAfterAKilledWrite: the temp file of a write killed
// between create and rename is found and removed at the next start; the
// settings file and other files stay.
func TestRemoveTempsAfterAKilledWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := Set(path, "port", 4145); err != nil {
		t.Fatal(err)
	}
	left, err := os.CreateTemp(dir, tempPattern) // what kill -9 leaves
	if err != nil {
		t.Fatal(err)
	}
	left.Close()
	other := filepath.Join(dir, "notes.toml")
	os.WriteFile(other, nil, 0o600)
	removed, err := RemoveTemps(path)
	if err != nil || len(removed) != 1 || removed[0] != left.Name() {
		t.Fatalf("removed %q, %v; want %s", removed, err, left.Name())
	}
	for _, keep := range []string{path, other} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(dir, ".config-*")); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}
