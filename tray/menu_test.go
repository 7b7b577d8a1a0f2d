package tray

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
)

func TestMenu(t *testing.T) {
	signedIn := []Session{{Key: "corp", SignedIn: true, Renewable: true}}
	dev := slot("", "Acme Dev/Admin", 42*time.Minute, creds.StateOK)
	dev.Profile.AccountID, dev.Profile.RoleName = "111111111111", "Admin"
	tests := []struct {
		name string
		st   State
		want string
	}{
		{"logged out", State{Sessions: []Session{{Key: "corp"}}}, `
(disabled) No role loaded
Log in to corp
---
(disabled) No roles yet: log in first
---
Copy terminal exports
Copy IDE settings
(disabled) Refresh now
---
[ ] Start at login
Quit
`},
		{"logging in: the code can be copied, the browser opened again, the login cancelled", State{
			Sessions: []Session{{Key: "corp", LoggingIn: true, UserCode: "ABCD-EFGH"}}}, `
(disabled) No role loaded
Copy code ABCD-EFGH
Open browser again
Cancel login
---
`},
		{"logging in with PKCE, no code: nothing to copy or reopen", State{Sessions: []Session{{Key: "corp", LoggingIn: true}}}, `
(disabled) No role loaded
(disabled) Logging in to corp in the browser
Cancel login
---
`},
		{"no clipboard tool: copy entries disabled with a hint", State{
			Sessions:    []Session{{Key: "corp", LoggingIn: true, UserCode: "ABCD-EFGH"}},
			NoClipboard: "install xclip",
		}, `
(disabled) No role loaded
(disabled) Copy code ABCD-EFGH (install xclip)
Open browser again
Cancel login
---
(disabled) No roles yet: log in first
---
(disabled) Copy terminal exports (install xclip)
(disabled) Copy IDE settings (install xclip)
`},
		{"one role loaded: status line, favourites and recent on top, a handful of accounts at the top level, underscores escaped", State{
			Slots:     creds.State{Default: dev},
			Sessions:  []Session{{Key: "corp", SignedIn: true, ExpiresAt: now.Add(8 * time.Hour)}},
			Roles:     roles,
			Recent:    []string{"Acme Dev/Admin", "gone", "dev"},
			Favorites: []string{"Acme Prod/ReadOnly"},
			Autostart: true,
		}, `
▶ Acme Dev/Admin — 42m
  ☆ Add to favourites
  Serve it in its own slot too
  Open AWS console
Signed in to corp until 17:00
  Start a new session
  Log out of corp
---
Find a role…
[ ] ★ Acme Prod/ReadOnly
Recent
  [x] Acme Dev/Admin
  [ ] dev
Acme Dev
  [x] Admin
  [ ] Read__Only
[ ] Acme Prod — ReadOnly
Profiles (1)
  [ ] dev
---
Copy terminal exports
Copy IDE settings
Refresh now
---
[x] Start at login
Quit
`},
		{"named slots at the top level, their actions one level below", State{
			Slots: creds.State{
				Default: slot("", "dev", 3*time.Hour+5*time.Minute, creds.StateOK),
				Named: []creds.Slot{
					*slot("checkout-dev", "checkout-dev", 59*time.Minute+30*time.Second, creds.StateOK),
					*slot("dev", "dev", 10*time.Minute, creds.StateOK),
					*slot("stage", "stage", -time.Minute, creds.StateLoginRequired),
				},
			},
			Sessions: signedIn, Roles: roles[:1], Favorites: []string{"dev"},
		}, `
▶ dev — 3h05m
  ★ Remove from favourites
  Open AWS console
Signed in to corp
  Start a new session
  Log out of corp
---
Find a role…
[x] ★ dev
Profiles (1)
  [x] dev
---
(disabled) Named slots
checkout-dev · 59m
  Unload
  Pin (keep across restarts)
  Open AWS console
dev · 10m
  Unload
  Pin (keep across restarts)
  Open AWS console
stage · log in again
  Unload
  Pin (keep across restarts)
---
`},
		{"refresh error with expired credentials", State{
			Slots: creds.State{Default: slot("", "dev", -time.Minute, creds.StateError)}, Sessions: signedIn, Roles: roles[:1],
		}, "\n▶ dev — refresh failed\n"},
		{"login required: log in from the status line", State{
			Slots:    creds.State{Default: &creds.Slot{Profile: creds.Profile{Name: "dev", Session: "corp"}, State: creds.StateLoginRequired}},
			Sessions: []Session{{Key: "corp"}}, Roles: roles[:1],
		}, `
▶ dev — log in again
  ☆ Add to favourites
  Serve it in its own slot too
  Log in to corp
Log in to corp
`},
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

// org makes n accounts of four roles each, named the way organisations
// name them (shared prefixes).
func org(n int) []Role {
	teams := []string{"payments", "checkout", "search", "identity", "data", "platform"}
	envs := []string{"dev", "stage", "prod"}
	var rs []Role
	for i := range n {
		acct := fmt.Sprintf("%s-%s-%03d", teams[i%len(teams)], envs[i%len(envs)], i)
		id := fmt.Sprintf("%012d", 100000000000+i)
		for _, r := range []string{"Admin", "ReadOnly", "Deploy", "Billing"} {
			rs = append(rs, Role{Name: acct + "/" + r, Account: acct, AccountID: id, Role: r, Session: "corp"})
		}
	}
	return rs
}

func TestMenuSizes(t *testing.T) {
	for _, tt := range []struct {
		accounts int
		maxSteps int // to reach any role: open the menu, one per level
	}{{1, 2}, {5, 3}, {40, 5}, {300, 5}, {1000, 6}} {
		t.Run(fmt.Sprint(tt.accounts), func(t *testing.T) {
			rs := org(tt.accounts)
			var recent []string
			for i := range min(12, len(rs)) {
				recent = append(recent, rs[i*7%len(rs)].Name)
			}
			d := slot("", rs[len(rs)-1].Name, time.Hour, creds.StateOK)
			st := State{Slots: creds.State{Default: d}, Sessions: []Session{{Key: "corp", SignedIn: true}},
				Roles: rs, Recent: recent, Favorites: []string{rs[0].Name, rs[len(rs)/2].Name}}
			m := Menu(st, now)
			if m[0].Key != "status" {
				t.Errorf("first entry %q, want the status line", m[0].Label)
			}
			quit := -1
			for i, it := range m {
				if it.Action.Kind == ActQuit {
					quit = i
				}
			}
			if quit < 0 || len(m) > MaxLevel {
				t.Errorf("top level: %d entries, Quit at %d", len(m), quit)
			}
			seen := map[string]int{}
			checked := 0
			var walk func(items []Item, path string, depth int)
			walk = func(items []Item, path string, depth int) {
				if len(items) > MaxLevel {
					t.Errorf("%s: %d entries", path, len(items))
				}
				for i, it := range items {
					if it.Action.Kind == ActLoad && it.Key == "" { // not in Recent or Favourites
						seen[it.Action.Profile]++
						if depth+1 > tt.maxSteps {
							t.Errorf("%s/%s: %d steps", path, it.Label, depth+1)
						}
						if it.Checked {
							checked++
						}
					}
					if i > 0 && len(it.Children) > 0 && strings.Contains(it.Label, " – ") && it.Label <= items[i-1].Label {
						t.Errorf("%s: ranges out of order: %q after %q", path, it.Label, items[i-1].Label)
					}
					walk(it.Children, path+"/"+it.Label, depth+1)
				}
			}
			walk(m, "", 1)
			for _, r := range rs {
				if seen[r.Name] != 1 {
					t.Errorf("role %s listed %d times by account", r.Name, seen[r.Name])
				}
			}
			if checked != 1 {
				t.Errorf("%d entries checked by account, want the loaded role's", checked)
			}
			if n := len(findItem(m, "recent").Children); n != min(RecentMax, len(rs)) {
				t.Errorf("%d recent roles, want %d", n, min(RecentMax, len(rs)))
			}
		})
	}
}

func findItem(items []Item, key string) Item {
	for _, it := range items {
		if it.Key == key {
			return it
		}
	}
	return Item{}
}

func TestFoldLabels(t *testing.T) {
	var items []Item
	for _, n := range []string{"acme-a", "acme-b", "acme-c", "beta", "bravo", "charlie"} {
		for i := range 9 {
			items = append(items, Item{Label: fmt.Sprintf("%s-%d", n, i)})
		}
	}
	var got []string
	for _, it := range fold(items, "k", labelOf) {
		got = append(got, it.Label)
	}
	want := []string{"acme-a-0 – acme-b-8 (18)", "acme-c-0 – beta-8 (18)", "bravo-0 – charlie-8 (18)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ranges %q, want %q", got, want)
	}
}

func TestFullLabel(t *testing.T) {
	for _, tt := range []struct {
		r    Role
		want string
	}{
		{Role{Name: "dev"}, "dev"},
		{Role{Name: "dev", AccountID: "111111111111", Role: "Admin"}, "dev — 111111111111/Admin"},
		{Role{Name: "payments-prod-admin", Account: "Payments Prod", AccountID: "123456789012", Role: "Admin"}, "payments-prod-admin — Payments Prod 123456789012/Admin"},
		{Role{Name: "Acme Dev/Admin", Account: "Acme Dev", AccountID: "111111111111", Role: "Admin"}, "Acme Dev/Admin — 111111111111"},
		{Role{Name: "111111111111/Admin", Account: "111111111111", AccountID: "111111111111", Role: "Admin"}, "111111111111/Admin"},
	} {
		if got := fullLabel(tt.r); got != tt.want {
			t.Errorf("fullLabel(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
