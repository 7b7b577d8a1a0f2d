package tray

import (
	"slices"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// TestNotificationsOverDBus sends through org.freedesktop.Notifications on
// a private bus to a recording server: buttons, icon per kind, warnings
// that stay, one notification replaced in place; a click on "Log in"
// (ActionInvoked) runs the login action.
func TestNotificationsOverDBus(t *testing.T) {
	s := desktoptest.Start(t)
	s.Setenv(t)
	server := s.StartNotifications(t)
	n := NewNotifier(nil, nil)
	defer n.Close()
	if _, ok := n.s.(*dbusSender); !ok {
		t.Fatalf("sender %T, want D-Bus", n.s)
	}
	acts := make(chan Action, 4)
	n.setActions(func(a Action) { acts <- a })

	ending := State{Sessions: []Session{{Key: "corp", SignedIn: true, ExpiresAt: now.Add(14 * time.Minute)}}}
	leads := []time.Duration{15 * time.Minute, 5 * time.Minute}
	notes, _ := Due(ending, now, leads)
	if err := n.Show(notes); err != nil {
		t.Fatal(err)
	}
	first := server.Wait(t, "AWS session corp ends in 14m", 5*time.Second)
	if !slices.Equal(first.Actions, []string{"login", "Log in", "new-session", "Start a new session"}) || first.Timeout != 0 || first.Icon != "dialog-warning" || first.App != "rolecall" {
		t.Errorf("warning sent as %+v", first)
	}
	notes, _ = Due(ending, now.Add(10*time.Minute), leads)
	if err := n.Show(notes); err != nil {
		t.Fatal(err)
	}
	second := server.Wait(t, "AWS session corp ends in 4m", 5*time.Second)
	if second.Replaces != first.ID {
		t.Errorf("second warning replaces %d, want %d (the first)", second.Replaces, first.ID)
	}
	// Clicks on another notification, or an unknown button, do nothing;
	// signals arrive in order, so they are handled before the real one.
	server.Invoke(t, second.ID+99, "login")
	server.Invoke(t, second.ID, "bogus")
	server.Invoke(t, second.ID, "login")
	select {
	case a := <-acts:
		if a != (Action{Kind: ActLogin, Session: "corp"}) {
			t.Errorf("button ran %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ActionInvoked(login) ran nothing")
	}
	if err := n.Send("Terminal exports copied", "Paste them into a terminal."); err != nil {
		t.Fatal(err)
	}
	if info := server.Wait(t, "Terminal exports copied", 5*time.Second); info.Icon != "dialog-information" || info.Timeout != -1 {
		t.Errorf("notice sent as %+v", info)
	}
	if len(acts) != 0 {
		t.Errorf("%d more actions ran", len(acts))
	}
}
