package handoff

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/private"
	"github.com/rolecall/rolecall/server"
)

// TestLauncherCommandLineHoldsNoSecret: the real launcher path with a fake
// xdg-open on PATH that records its own /proc/self/cmdline and stays
// running (as a browser run in the foreground does). Open returns while it
// runs; another user (nobody, through setpriv) reads its command line and
// finds no secret, cannot read the page it names, and is refused by the
// loopback link; the user's own browser then gets the secret URL.
func TestLauncherCommandLineHoldsNoSecret(t *testing.T) {
	desktoptest.SkipShort(t, "starts a fake xdg-open and reads it as another user")
	if os.Getuid() != 0 {
		desktoptest.SkipOrFail(t, "reading as another user needs root (setpriv): run the test as root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		desktoptest.SkipOrFail(t, "setpriv is missing: apt-get install util-linux")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		desktoptest.SkipOrFail(t, "curl is missing: apt-get install curl")
	}
	bin := t.TempDir()
	rec, pidFile, release := filepath.Join(bin, "cmdline"), filepath.Join(bin, "pid"), filepath.Join(bin, "release")
	if err := syscall.Mkfifo(release, 0o600); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n" +
		"tr '\\000' ' ' < /proc/$$/cmdline > " + rec + "\n" +
		"echo $$ > " + pidFile + ".tmp && mv " + pidFile + ".tmp " + pidFile + "\n" +
		"cat " + release + " > /dev/null\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	s := New(Options{Dir: t.TempDir(), WriteFile: private.WriteFile, Accept: server.SameUser})
	t.Cleanup(func() { s.Close() })

	opened := make(chan error, 1)
	go func() { opened <- s.Open(secretURL) }()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Open waits for the launcher to exit")
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fake xdg-open never ran")
		}
	}
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	})
	asNobody := func(args ...string) ([]byte, error) {
		return exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--"}, args...)...).Output()
	}
	seen, err := asNobody("cat", "/proc/"+strconv.Itoa(pid)+"/cmdline")
	if err != nil || !bytes.Contains(seen, []byte("xdg-open")) {
		t.Fatalf("another user could not read the launcher's command line (%v): %q", err, seen)
	}
	own, _ := os.ReadFile(rec)
	for _, cmdline := range [][]byte{seen, own} {
		if bytes.Contains(cmdline, []byte("FAKE-SIGNIN-TOKEN")) || bytes.Contains(cmdline, []byte("SigninToken")) {
			t.Fatalf("the launcher's command line carries the secret: %q", cmdline)
		}
	}
	target := strings.Fields(string(own))[len(strings.Fields(string(own)))-1]
	page, link := linkIn(t, target)
	if out, err := asNobody("cat", page); err == nil {
		t.Errorf("another user read the page: %q", out)
	}
	code, err := asNobody(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", link)
	if err != nil || string(code) != "403" {
		t.Errorf("another user's request for the link: %q (%v), want 403", code, err)
	}
	resp := get(t, link)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != secretURL {
		t.Errorf("the user's browser: %d %q, want 303 to the secret URL", resp.StatusCode, resp.Header.Get("Location"))
	}
	if f, err := os.OpenFile(release, os.O_WRONLY, 0); err == nil {
		f.Close() // the fake xdg-open ends
	}
}
