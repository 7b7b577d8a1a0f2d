package picker

import (
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// TestDesktopOpen opens the picker the way the tray does: a 0600 file that
// forwards to a one-time link, handed to the browser on its command line as
// a desktop's xdg-open would. The page's script then lists the roles, which
// it can only do with the session cookie (before the fix, Chromium dropped
// the SameSite=Strict cookie set on a redirect chain started from file://
// and the page answered 403).
func TestDesktopOpen(t *testing.T) {
	desktoptest.SkipShort(t, "starts a browser")
	for _, b := range []struct{ name, install string }{
		{"chromium", "apt-get install chromium"},
		{"firefox-esr", "apt-get install firefox-esr"},
	} {
		t.Run(b.name, func(t *testing.T) {
			bin, err := exec.LookPath(b.name)
			if err != nil {
				desktoptest.SkipOrFail(t, b.name+" is missing: "+b.install)
			}
			listed := make(chan struct{}, 1)
			f := &fakeRoles{stars: map[string]bool{}}
			opts := f.options()
			roles := opts.Roles
			opts.Roles = func() []Role {
				select {
				case listed <- struct{}{}:
				default:
				}
				return roles()
			}
			s, err := Start(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Not t.TempDir: the browser's helper processes outlive
			// its main process for a moment and still write to the
			// profile, so its removal waits for them (below).
			dir, err := os.MkdirTemp("", "rolecall-desktop-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir) }) // when the browser never started
			file := filepath.Join(dir, "find-a-role.html")
			if err := os.WriteFile(file, forwardPage(s.Link()), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := browserCommand(b.name, bin, dir, "file://"+file)
			cmd.Env = append(os.Environ(), "HOME="+dir)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				cmd.Process.Kill()
				cmd.Wait()
				for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
					err := os.RemoveAll(dir)
					if err == nil {
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("the browser's profile was still written 15 s after it was killed: %v", err)
						break
					}
				}
			}()
			select {
			case <-listed:
			case <-time.After(90 * time.Second): // a hang guard: firefox-esr took 25 s to start at a load of 29

				t.Fatalf("%s opened the tray's file but the page never listed the roles (no session cookie on /)", b.name)
			}
		})
	}
}

// browserCommand starts browser headless on its own profile with url as its
// one argument, as xdg-open does.
func browserCommand(name, bin, profile, url string) *exec.Cmd {
	if name == "chromium" {
		return exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir="+filepath.Join(profile, "chromium"), url)
	}
	os.MkdirAll(filepath.Join(profile, "firefox"), 0o700)
	return exec.Command(bin, "--headless", "--no-remote", "--profile", filepath.Join(profile, "firefox"), url)
}

// forwardPage is a private file that forwards to link, as the tray's
// (the handoff package's) forwarding pages do.
func forwardPage(link string) []byte {
	l := html.EscapeString(link)
	return []byte(`<!DOCTYPE html><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<meta http-equiv="refresh" content="0;url=` + l + `"><title>rolecall</title>`)
}
