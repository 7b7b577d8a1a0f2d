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

func TestMenu(t *testing.T) {
	signedIn := []Session{{Key: "corp", SignedIn: true, Renewable: true}}
	tests := []struct {
		name string
		st   State
		want string
	}{
		{"logged out", State{Sessions: []Session{{Key: "corp"}}}, `
(disabled) No role loaded
---
Log in to corp
---
(disabled) No roles yet: log in first
---
Named slots (0)
  (disabled) Serve the default role in its own slot too
---
Copy terminal exports
Copy IDE settings
(disabled) Refresh now
---
[ ] Start at login
Quit
`},
		{"logging in, code shown", State{Sessions: []Session{{Key: "corp", LoggingIn: true, UserCode: "ABCD-EFGH"}}}, `
(disabled) No role loaded
---
(disabled) Logging in to corp: code ABCD-EFGH
---
(disabled) No roles yet: log in first
---
Named slots (0)
  (disabled) Serve the default role in its own slot too
---
Copy terminal exports
Copy IDE settings
(disabled) Refresh now
---
[ ] Start at login
Quit
`},
		{"logging in with PKCE, no code", State{Sessions: []Session{{Key: "corp", LoggingIn: true}}}, `
(disabled) No role loaded
---
(disabled) Logging in to corp in the browser
---
(disabled) No roles yet: log in first
---
Named slots (0)
  (disabled) Serve the default role in its own slot too
---
Copy terminal exports
Copy IDE settings
(disabled) Refresh now
---
[ ] Start at login
Quit
`},
		{"one role loaded, recent on top, underscores escaped", State{
			Slots:    creds.State{Default: slot("", "Acme Dev/Admin", 42*time.Minute, creds.StateOK)},
			Sessions: []Session{{Key: "corp", SignedIn: true, ExpiresAt: now.Add(8 * time.Hour)}},
			Roles:    roles, Recent: []string{"Acme Dev/Admin", "gone", "dev"}, Autostart: true,
		}, `
(disabled) Acme Dev/Admin: 42m left
---
(disabled) Signed in to corp until 17:00
---
[x] Acme Dev/Admin
[ ] dev
---
Profiles
  [ ] dev
Acme Dev
  [x] Admin
  [ ] Read__Only
Acme Prod
  [ ] ReadOnly
---
Named slots (0)
  Serve Acme Dev/Admin in its own slot too
---
Copy terminal exports
Copy IDE settings
Refresh now
---
[x] Start at login
Quit
`},
		{"several slots, one pinned, one needing a login", State{
			Slots: creds.State{
				Default: slot("", "dev", 3*time.Hour+5*time.Minute, creds.StateOK),
				Named: []creds.Slot{
					*slot("prod", "prod", 10*time.Minute, creds.StateOK),
					*slot("stage", "stage", -time.Minute, creds.StateLoginRequired),
				},
			},
			Sessions: signedIn, Roles: roles[:1],
		}, `
(disabled) dev: 3h05m left
---
(disabled) Signed in to corp
---
Profiles
  [x] dev
---
Named slots (2)
  prod: 10m left
    [ ] Pinned
    Unload
  stage: log in again
    [ ] Pinned
    Unload
  ---
  Serve dev in its own slot too
---
Copy terminal exports
Copy IDE settings
Refresh now
---
[ ] Start at login
Quit
`},
		{"refresh error with expired credentials", State{
			Slots: creds.State{Default: slot("", "dev", -time.Minute, creds.StateError)}, Sessions: signedIn, Roles: roles[:1],
		}, "\n(disabled) dev: refresh failed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := "\n" + render(Menu(tt.st, now), 0)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("menu:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestMenuLargeRoleList(t *testing.T) {
	var many []Role
	for a := range 100 {
		for _, r := range []string{"Admin", "ReadOnly", "Deploy"} {
			acct := fmt.Sprintf("account-%03d", a)
			many = append(many, Role{Name: acct + "/" + r, Account: acct, Role: r, Session: "corp"})
		}
	}
	m := Menu(State{Roles: many, Recent: []string{"account-007/Admin", "account-042/Deploy"}}, now)
	top, subs := 0, 0
	for _, it := range m {
		top++
		if len(it.Children) == 3 {
			subs++
		}
	}
	if subs != 100 {
		t.Errorf("%d account submenus, want 100", subs)
	}
	if top > 125 {
		t.Errorf("%d top-level entries: a 300-role menu must stay one row per account", top)
	}
	if m[4].Label != "account-007/Admin" || m[5].Label != "account-042/Deploy" {
		t.Errorf("recent roles are not on top: %q, %q", m[4].Label, m[5].Label)
	}
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
	}
	for _, tt := range tests {
		if got := Icon(tt.st, now); got != tt.want {
			t.Errorf("%s: Icon = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestDue(t *testing.T) {
	leads := []time.Duration{15 * time.Minute, 5 * time.Minute}
	ending := func(left time.Duration) State {
		return State{Sessions: []Session{{Key: "corp", SignedIn: true, ExpiresAt: now.Add(left)}}}
	}
	tests := []struct {
		name     string
		st       State
		keys     []string
		titles   []string
		nextFrom time.Duration // next due, from now; -1: none
	}{
		{"session far from its end", ending(time.Hour), nil, nil, 45 * time.Minute},
		{"15 minutes before", ending(15 * time.Minute), []string{"ending/corp/"}, []string{"AWS session corp ends in 15m"}, 10 * time.Minute},
		{"5 minutes before", ending(4*time.Minute + 30*time.Second), []string{"ending/corp/"}, []string{"AWS session corp ends in 5m"}, -1},
		{"renewable session: no warning", State{Sessions: []Session{{Key: "corp", SignedIn: true, Renewable: true, ExpiresAt: now.Add(time.Minute)}}}, nil, nil, -1},
		{"login code", State{Sessions: []Session{{Key: "corp", LoggingIn: true, UserCode: "ABCD-EFGH"}}}, []string{"code/corp/ABCD-EFGH"}, []string{"Log in to corp"}, -1},
		{"login required", State{Slots: creds.State{Default: slot("", "dev", time.Minute, creds.StateLoginRequired)}}, []string{"login/"}, []string{"Credentials for dev can no longer be refreshed"}, -1},
		{"refresh failed", State{Slots: creds.State{Named: []creds.Slot{*slot("prod", "prod", time.Minute, creds.StateError)}}}, []string{"error/prod/"}, []string{"Refreshing prod failed"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notes, next := Due(tt.st, now, leads)
			if len(notes) != len(tt.keys) {
				t.Fatalf("notes = %+v, want %d", notes, len(tt.keys))
			}
			for i, n := range notes {
				if !strings.HasPrefix(n.Key, tt.keys[i]) || n.Title != tt.titles[i] {
					t.Errorf("note %d = %+v, want key %s… title %q", i, n, tt.keys[i], tt.titles[i])
				}
			}
			switch {
			case tt.nextFrom < 0 && !next.IsZero():
				t.Errorf("next = %v, want none", next)
			case tt.nextFrom >= 0 && !next.Equal(now.Add(tt.nextFrom)):
				t.Errorf("next = %v, want now+%v", next, tt.nextFrom)
			}
		})
	}
}

func TestNotifierShowsEachEventOnce(t *testing.T) {
	var sent []string
	n := &Notifier{Send: func(title, body string) error { sent = append(sent, title); return nil }, shown: map[string]bool{}}
	st := State{Sessions: []Session{{Key: "corp", SignedIn: true, ExpiresAt: now.Add(14 * time.Minute)}}}
	leads := []time.Duration{15 * time.Minute, 5 * time.Minute}
	for tick := range 20 { // a minute apart: 14m left down to expiry
		notes, _ := Due(st, now.Add(time.Duration(tick)*time.Minute), leads)
		n.Show(notes)
	}
	if len(sent) != 2 || sent[0] != "AWS session corp ends in 14m" || sent[1] != "AWS session corp ends in 5m" {
		t.Errorf("sent %q, want one note per lead time", sent)
	}
}
