package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/tray/picker"
)

// TestPickerRefusesOtherUser: the role picker, wired as the app wires it,
// refuses a client run as another user even when it holds a valid
// one-time link (the link could be read off a command line).
func TestPickerRefusesOtherUser(t *testing.T) {
	desktoptest.SkipShort(t, "runs a client as another user")
	desktoptest.LinuxOnly(t, "the same-user check (peer lookup by socket)")
	if os.Getuid() != 0 {
		desktoptest.SkipOrFail(t, "TestPickerRefusesOtherUser needs root to run a client as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		desktoptest.SkipOrFail(t, "setpriv is missing: sudo apt-get install util-linux")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		desktoptest.SkipOrFail(t, "curl is missing: sudo apt-get install curl")
	}
	loads := make(chan string, 1)
	srv, err := picker.Start(picker.Options{
		Accept:   server.SameUser,
		Roles:    func() []picker.Role { return nil },
		Load:     func(p string) error { loads <- p; return nil },
		LoadSlot: func(string) error { return nil },
		Favorite: func(string, bool) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	out, _ := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", srv.Link()).Output()
	if got := strings.TrimSpace(string(out)); got != "403" {
		t.Errorf("one-time link opened by another user: HTTP %q, want 403", got)
	}
	// The same link still works for the user it was made for (a page that
	// sets the cookie and moves to the picker).
	out, err = exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", srv.Link()).Output()
	if got := strings.TrimSpace(string(out)); err != nil || got != "200" {
		t.Errorf("own link: HTTP %q, %v; want 200", got, err)
	}
}
