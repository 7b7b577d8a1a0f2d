package tray

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
)

var now = time.Date(2026, 11, 22, 9, 0, 0, 0, time.Local)

func slot(name, profile string, left time.Duration, state creds.SlotState) *creds.Slot {
	return &creds.Slot{
		Name: name, Profile: creds.Profile{Name: profile}, State: state,
		Creds: creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", Issued: now.Add(-time.Hour + left), Expiration: now.Add(left)},
	}
}

var roles = []Role{
	{Name: "dev", Session: "corp"},
	{Name: "Acme Dev/Admin", Account: "Acme Dev", Role: "Admin", Session: "corp"},
	{Name: "Acme Dev/Read_Only", Account: "Acme Dev", Role: "Read_Only", Session: "corp"},
	{Name: "Acme Prod/ReadOnly", Account: "Acme Prod", Role: "ReadOnly", Session: "corp"},
}

// render writes a menu as indented lines: "[x]" checked, "( )" disabled.
func render(items []Item, depth int) string {
	var b strings.Builder
	for _, it := range items {
		if it.Separator {
			fmt.Fprintf(&b, "%s---\n", strings.Repeat("  ", depth))
			continue
		}
		mark := ""
		switch {
		case it.Checkable && it.Checked:
			mark = "[x] "
		case it.Checkable:
			mark = "[ ] "
		}
		if it.Disabled {
			mark += "(disabled) "
		}
		fmt.Fprintf(&b, "%s%s%s\n", strings.Repeat("  ", depth), mark, it.Label)
		b.WriteString(render(it.Children, depth+1))
	}
	return b.String()
}

func TestIcon(t *testing.T) {
	tests := []struct {
		name string
		st   State
		want IconKind
	}{
		{"nothing loaded", State{}, IconNone},
		{"active", State{Slots: creds.State{Default: slot("", "dev", time.Hour, creds.StateOK)}}, IconActive},
		{"expiring soon", State{Slots: creds.State{Default: slot("", "dev", 4*time.Minute, creds.StateOK)}}, IconWarning},
		{"login required", State{Slots: creds.State{Default: slot("", "dev", 30*time.Minute, creds.StateLoginRequired)}}, IconWarning},
		{"refresh failing, still valid", State{Slots: creds.State{Default: slot("", "dev", 30*time.Minute, creds.StateError)}}, IconWarning},
		{"refresh failed, expired", State{Slots: creds.State{Default: slot("", "dev", -time.Minute, creds.StateError)}}, IconError},
		{"named slot needs login", State{Slots: creds.State{Named: []creds.Slot{*slot("p", "p", 0, creds.StateLoginRequired)}}}, IconWarning},
		{"session far from its end", withSession(Session{Key: "corp", SignedIn: true, ExpiresAt: now.Add(time.Hour)}), IconActive},
		{"session ends within the lead", withSession(Session{Key: "corp", SignedIn: true, ExpiresAt: now.Add(14 * time.Minute)}), IconWarning},
		{"renewable session ends within the lead", withSession(Session{Key: "corp", SignedIn: true, Renewable: true,
			ExpiresAt: now.Add(time.Hour), Ends: now.Add(10 * time.Minute)}), IconWarning},
		{"renewable session, end unknown", withSession(Session{Key: "corp", SignedIn: true, Renewable: true, ExpiresAt: now.Add(time.Minute)}), IconActive},
		{"session ended, credentials still valid", withSession(Session{Key: "corp"}), IconWarning},
		{"another session ended", withSession(Session{Key: "other"}), IconActive},
	}
	for _, tt := range tests {
		if got := Icon(tt.st, now, 15*time.Minute); got != tt.want {
			t.Errorf("%s: Icon = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// withSession is an active default slot of session corp, and s.
func withSession(s Session) State {
	d := slot("", "dev", time.Hour, creds.StateOK)
	d.Profile.Session = "corp"
	return State{Slots: creds.State{Default: d}, Sessions: []Session{s}}
}

// TestLoginSessionLines: an `aws login` session is named by its label
// (its key is the principal's ARN, which the actions carry).
func TestLoginSessionLines(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.Local)
	const arn = "arn:aws:sts::111111111111:assumed-role/Admin/alice"
	for _, tt := range []struct {
		name string
		s    Session
		want string
	}{
		{"signed out", Session{Key: arn, Label: "alice in 111111111111", Login: true}, "Log in to alice in 111111111111"},
		{"signed in", Session{Key: arn, Label: "alice in 111111111111", Login: true, SignedIn: true, Renewable: true,
			ExpiresAt: now.Add(15 * time.Minute), Ends: now.Add(12 * time.Hour)}, "Signed in to alice in 111111111111 until 21:00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			items := sessionItems(State{Sessions: []Session{tt.s}}, nil, now)
			if items[0].Label != tt.want {
				t.Errorf("first line %q, want %q", items[0].Label, tt.want)
			}
			if tt.s.SignedIn {
				return
			}
			if items[0].Action.Session != arn {
				t.Errorf("action for %q, want the ARN", items[0].Action.Session)
			}
		})
	}
}
