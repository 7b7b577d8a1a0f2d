package tray

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
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

	ending := withSession(Session{Key: "corp", SignedIn: true, ExpiresAt: now.Add(14 * time.Minute)})
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

// TestNotesTakenBack renders a day's turns through the notification loop
// to a recording org.freedesktop.Notifications server and looks at what
// stays on screen: a note is closed or replaced when what it says stops
// being true, and every note is closed at Quit (Close). Before, the login
// code stayed after the login, "ends in 10m" outlived a new login and
// Quit, "ends in 3m" outlived the end, and a failure came as an
// information note with the SDK's error chain.
func TestNotesTakenBack(t *testing.T) {
	s := desktoptest.Start(t)
	s.Setenv(t)
	server := s.StartNotifications(t)
	n := NewNotifier(nil, nil)
	closed := false
	defer func() {
		if !closed {
			n.Close()
		}
	}()
	leads := []time.Duration{15 * time.Minute, 5 * time.Minute}
	screen := func() string {
		var out []string
		for _, x := range server.OnScreen() {
			out = append(out, x.Summary)
		}
		return strings.Join(out, "|")
	}
	step := func(name string, st State, at time.Time, want string) {
		t.Helper()
		notes, _ := Due(st, at, leads)
		if err := n.Show(notes); err != nil {
			t.Fatal(err)
		}
		if got := screen(); got != want {
			t.Errorf("%s: on screen %q, want %q", name, got, want)
		}
	}
	dev := func(state creds.SlotState, err string) creds.Slot {
		return sessionSlot("dev", time.Hour, state, "ASIAIOSFODNN7EXAMPLE", err)
	}
	at := func(st State, sessions ...Session) State { st.Sessions = sessions; return st }
	ok := State{Slots: creds.State{Default: ptr(dev(creds.StateOK, ""))}}
	end := now.Add(8 * time.Minute)

	step("a login waits for its code", at(ok, Session{Key: "corp", LoggingIn: true, UserCode: "ABCD-EFGH"}), now,
		"Log in to AWS session corp")
	step("the login completed: the code is taken back", at(ok, Session{Key: "corp", SignedIn: true, ExpiresAt: end}), now,
		"AWS session corp ends in 8m")
	step("a new login: the warning is taken back", at(ok, Session{Key: "corp", SignedIn: true, ExpiresAt: now.Add(8 * time.Hour)}), now, "")
	step("3 minutes left", at(ok, Session{Key: "corp", SignedIn: true, ExpiresAt: end}), end.Add(-3*time.Minute),
		"AWS session corp ends in 3m")
	step("past the end: taken back", at(ok, Session{Key: "corp", SignedIn: true, ExpiresAt: end}), end.Add(time.Second), "")
	hang := State{Slots: creds.State{Default: ptr(dev(creds.StateError, "GetRoleCredentials: dial tcp 52.94.1.1:443: i/o timeout"))}}
	step("Identity Center hangs", at(hang, Session{Key: "corp", SignedIn: true}), now, "Identity Center (corp) is not answering")
	if x := server.OnScreen()[0]; len(x.Actions) != 0 || x.Icon != "dialog-warning" {
		t.Errorf("outage note offers %q with icon %s", x.Actions, x.Icon)
	}
	step("it answers again: said in the same place", at(ok, Session{Key: "corp", SignedIn: true}), now, "Identity Center (corp) answers again")

	err := fmt.Errorf("operation error SSO: GetRoleCredentials, https response error StatusCode: 403, ForbiddenException: No access: %w",
		errors.New("load"))
	if err := n.Notice(Failure(Action{Kind: ActLoad, Profile: "prod/Admin"}, err)); err != nil {
		t.Fatal(err)
	}
	f := server.Wait(t, "Could not switch to prod/Admin", 5*time.Second)
	if f.Icon != "dialog-error" || f.Urgency != 2 || strings.Contains(f.Body, "Exception") || !strings.Contains(f.Body, "permission removed") {
		t.Errorf("failure shown as %s urgency %d: %q", f.Icon, f.Urgency, f.Body)
	}
	step("a lost session", at(State{Slots: creds.State{Default: ptr(dev(creds.StateLoginRequired, "login required"))}}, Session{Key: "corp"}), now,
		"AWS session corp ended|Could not switch to prod/Admin")
	n.Close()
	closed = true
	if got := screen(); got != "" {
		t.Errorf("after Quit on screen: %q", got)
	}
}
