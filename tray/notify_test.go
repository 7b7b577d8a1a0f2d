package tray

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
)

func sessionSlot(name string, left time.Duration, state creds.SlotState, akid, err string) creds.Slot {
	s := *slot(name, name, left, state)
	s.Profile.Session, s.Creds.AccessKeyID, s.Err = "corp", akid, err
	return s
}

func TestDue(t *testing.T) {
	leads := []time.Duration{15 * time.Minute, 5 * time.Minute}
	// A session ending, used by the default slot (the credentials end
	// after the session, so they add no note).
	ending := func(left time.Duration) State {
		d := sessionSlot("dev", 9*time.Hour, creds.StateOK, "ASIAIOSFODNN7EXAMPLE", "")
		return State{Sessions: []Session{{Key: "corp", SignedIn: true, ExpiresAt: now.Add(left)}}, Slots: creds.State{Default: &d}}
	}
	used := func(st State) State { st.Slots = ending(0).Slots; return st }
	// usedBySession: the default slot uses st's first session.
	usedBySession := func(st State) State {
		d := *ending(0).Slots.Default
		d.Profile.Session = st.Sessions[0].Key
		st.Slots = creds.State{Default: &d}
		return st
	}
	const akid1, akid2 = "ASIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPL2"
	lost := State{Sessions: []Session{{Key: "corp"}}, Slots: creds.State{
		Default: ptr(sessionSlot("dev", 30*time.Minute, creds.StateLoginRequired, akid1, "sso session corp: renewal refused: login required")),
		Named: []creds.Slot{
			sessionSlot("prod", 30*time.Minute, creds.StateLoginRequired, akid2, "login required"),
			sessionSlot("stage", 20*time.Minute, creds.StateLoginRequired, akid2, "login required"),
		}}}
	tests := []struct {
		name     string
		st       State
		want     string        // "kind|title|buttons|sticky[|resolved title]" per note
		nextFrom time.Duration // next due, from now; -1: none
	}{
		{"session far from its end", ending(time.Hour), "", 45 * time.Minute},
		{"15 minutes before: a warning that stays, with Log in and a new session", ending(15 * time.Minute),
			"1|AWS session corp ends in 15m|login,new-session|true", 10 * time.Minute},
		{"5 minutes before", ending(4*time.Minute + 30*time.Second), "1|AWS session corp ends in 5m|login,new-session|true", -1},
		{"renewable session, end known from sign-in", used(State{Sessions: []Session{{Key: "corp", SignedIn: true, Renewable: true,
			ExpiresAt: now.Add(time.Hour), Ends: now.Add(12 * time.Minute)}}}), "1|AWS session corp ends in 12m|new-session|true", 7 * time.Minute},
		{"renewable session, end unknown", used(State{Sessions: []Session{{Key: "corp", SignedIn: true, Renewable: true,
			ExpiresAt: now.Add(time.Minute)}}}), "", -1},
		{"a session ending that no loaded role uses: no warning", State{Sessions: []Session{{Key: "corp", SignedIn: true,
			ExpiresAt: now.Add(4 * time.Minute)}}}, "", -1},
		{"aws login session close to its 12 hours: named by its label, a new session", usedBySession(State{Sessions: []Session{{Key: "arn:aws:iam::111111111111:user/alice",
			Label: "alice in 111111111111", Login: true, SignedIn: true, Renewable: true, ExpiresAt: now.Add(14 * time.Minute), Ends: now.Add(15 * time.Minute)}}}),
			"1|AWS session alice in 111111111111 ends in 15m|new-session|true", 10 * time.Minute},
		{"login code: copy it, open the browser", State{Sessions: []Session{{Key: "corp", LoggingIn: true, UserCode: "ABCD-EFGH"}}},
			"0|Log in to AWS session corp|copy-code,open-browser|true", -1},
		{"login code without a clipboard tool", State{Sessions: []Session{{Key: "corp", LoggingIn: true, UserCode: "ABCD-EFGH"}},
			NoClipboard: "install xclip"}, "0|Log in to AWS session corp|open-browser|true", -1},
		{"a lost session: one note for all its slots", lost,
			"1|AWS session corp ended|login|true", 20 * time.Minute},
		{"a lost session being logged in again: only the code", State{Sessions: []Session{{Key: "corp", LoggingIn: true, UserCode: "ABCD-EFGH"}}, Slots: lost.Slots},
			"0|Log in to AWS session corp|copy-code,open-browser|true", 20 * time.Minute},
		{"a lost session signed in again, its slots not fetched yet: nothing", State{Sessions: []Session{{Key: "corp", SignedIn: true, ExpiresAt: now.Add(8 * time.Hour)}}, Slots: lost.Slots},
			"", 20 * time.Minute},
		{"refresh failing, network down: Identity Center not answering, no Log in, taken back when it answers", State{Slots: creds.State{Named: []creds.Slot{
			sessionSlot("prod", 10*time.Minute, creds.StateError, akid1,
				`operation error SSO: GetRoleCredentials, https response error StatusCode: 0, RequestID: , request send failed, Get "https://portal.sso.us-east-1.amazonaws.com/federation/credentials": dial tcp: lookup portal.sso.us-east-1.amazonaws.com: no such host`)}}},
			"1|Identity Center (corp) is not answering||true|Identity Center (corp) answers again", 10 * time.Minute},
		{"refresh failing, throttled: a warning with a short text", State{Slots: creds.State{Named: []creds.Slot{
			sessionSlot("prod", 10*time.Minute, creds.StateError, akid1, "operation error SSO: GetRoleCredentials, TooManyRequestsException: Rate exceeded")}}},
			"1|Refreshing prod failed: Identity Center is busy (throttled)||false", 10 * time.Minute},
		{"credentials expired while Identity Center hangs: an error, no Log in", State{Slots: creds.State{Default: ptr(sessionSlot("dev", -time.Second, creds.StateError, akid1, "i/o timeout"))}},
			"2|Credentials for dev expired||true|Identity Center (corp) answers again", -1},
		{"credentials expired, the session refused: Log in", State{Slots: creds.State{Default: ptr(sessionSlot("dev", -time.Second, creds.StateError, akid1,
			"refresh: IAM Identity Center no longer accepts the sso session corp: login required"))}},
			"2|Credentials for dev expired|login|true", -1},
		{"restored slots not named yet, signed out: one note naming them, not one each with no session", State{Slots: creds.State{
			Default: &creds.Slot{Profile: creds.Profile{Name: "dev/Admin"}, State: creds.StateLoginRequired},
			Named:   []creds.Slot{{Name: "prod/ReadOnly", Profile: creds.Profile{Name: "prod/ReadOnly"}, State: creds.StateLoginRequired}}}},
			"1|Sign-in needed for dev/Admin and prod/ReadOnly||true", -1},
		{"healthy slots: nothing", State{Slots: creds.State{Default: ptr(sessionSlot("dev", time.Hour, creds.StateOK, akid1, ""))}}, "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notes, next := Due(tt.st, now, leads)
			var got []string
			for _, n := range notes {
				var bs []string
				for _, b := range n.Buttons {
					bs = append(bs, b.Key)
				}
				line := fmt.Sprintf("%d|%s|%s|%t", n.Kind, n.Title, strings.Join(bs, ","), n.Sticky)
				if n.Resolved != nil {
					line += "|" + n.Resolved.Title
				}
				got = append(got, line)
				if len(n.Title) > 80 || len(n.Body) > 160 {
					t.Errorf("note too long for a notification: %q / %q", n.Title, n.Body)
				}
			}
			if g := strings.Join(got, "\n"); g != tt.want {
				t.Errorf("notes:\n%s\nwant:\n%s", g, tt.want)
			}
			switch {
			case tt.nextFrom < 0 && !next.IsZero():
				t.Errorf("next = %v, want none", next.Sub(now))
			case tt.nextFrom >= 0 && !next.Equal(now.Add(tt.nextFrom)):
				t.Errorf("next = now+%v, want now+%v", next.Sub(now), tt.nextFrom)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestReason(t *testing.T) {
	for in, want := range map[string]string{
		"dial tcp 127.0.0.1:443: connect: connection refused":                                        "Identity Center is not answering",
		"StartDeviceAuthorization: context deadline exceeded":                                        "Identity Center is not answering",
		"dial tcp: lookup portal.sso.us-east-1.amazonaws.com: no such host":                          "network unreachable",
		"refresh: IAM Identity Center no longer accepts the sso session corp: login required":        "Identity Center refused the session",
		"operation error SSO: GetRoleCredentials, ForbiddenException: No access":                     "permission removed",
		"operation error SSO: GetRoleCredentials, TooManyRequestsException: Rate exceeded":           "Identity Center is busy (throttled)",
		"operation error SSO: GetRoleCredentials, ResourceNotFoundException: Could not find account": "role or account not found",
		"something odd": "unexpected error (details in the log)",
	} {
		if got := Reason(in); got != want {
			t.Errorf("Reason(%q) = %q, want %q", in, got, want)
		}
	}
}

// recorder is a sender that keeps what it is asked to show.
type recorder struct {
	sent []string // "title replaces=N"
	next uint32
}

func (r *recorder) send(n Note, replaces uint32) (uint32, error) {
	r.sent = append(r.sent, fmt.Sprintf("%s replaces=%d", n.Title, replaces))
	if replaces != 0 {
		return replaces, nil
	}
	r.next++
	return r.next, nil
}

func (r *recorder) take(id uint32) error {
	r.sent = append(r.sent, fmt.Sprintf("close %d", id))
	return nil
}

func (r *recorder) close() {}

// TestNotifierOnePerEvent renders every 10 seconds through a session's
// last 16 minutes, its loss and its credentials' expiry: each event is
// shown once, each replacing the session's previous notification.
func TestNotifierOnePerEvent(t *testing.T) {
	rec := &recorder{}
	n := newNotifier(rec, nil)
	leads := []time.Duration{15 * time.Minute, 5 * time.Minute}
	end := now.Add(16 * time.Minute)
	for tick := time.Duration(0); tick <= 40*time.Minute; tick += 10 * time.Second {
		at := now.Add(tick)
		st := State{Sessions: []Session{{Key: "corp", SignedIn: at.Before(end), ExpiresAt: end}}}
		state := creds.StateOK
		if !at.Before(end) {
			state = creds.StateLoginRequired
		}
		for _, name := range []string{"dev", "prod", "stage"} {
			s := sessionSlot(name, 0, state, "ASIAIOSFODNN7EXAMPLE", "login required")
			s.Creds.Expiration = now.Add(30 * time.Minute)
			if name == "dev" {
				st.Slots.Default = &s
			} else {
				st.Slots.Named = append(st.Slots.Named, s)
			}
		}
		notes, _ := Due(st, at, leads)
		if err := n.Show(notes); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"AWS session corp ends in 15m replaces=0",
		"AWS session corp ends in 5m replaces=1",
		"AWS session corp ended replaces=1",
		"Credentials for dev and 2 more expired replaces=1",
	}
	if strings.Join(rec.sent, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(rec.sent, "\n"), strings.Join(want, "\n"))
	}
}
