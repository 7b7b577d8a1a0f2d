package tray

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rolecall/rolecall/creds"
)

// The tests below are the points of a day of use on a real panel (issue
// 22), each at the menu model: each failed on the menu as it was.

// TestMenuNextSteps: every session line offers what can be done next: Log
// out while signed in; Log in once the session's expected end has passed
// (it was a greyed "Signed in … until 13:40"); no Log in while Identity
// Center does not answer (it would not help); a role waiting for the
// sign-in is named.
func TestMenuNextSteps(t *testing.T) {
	end := now.Add(-time.Minute)
	hang := sessionSlot("dev", 30*time.Minute, creds.StateError, "ASIAIOSFODNN7EXAMPLE", "GetRoleCredentials: dial tcp 52.94.1.1:443: i/o timeout")
	for _, tt := range []struct {
		name string
		st   State
		want string
	}{
		{"signed in: Log out below", State{Sessions: []Session{{Key: "corp", SignedIn: true, ExpiresAt: now.Add(time.Hour)}}},
			"Signed in to corp until 10:00\n  Start a new session\n  Log out of corp\n"},
		{"past the expected end: Log in", State{Sessions: []Session{{Key: "corp", SignedIn: true, Renewable: true,
			ExpiresAt: now.Add(time.Hour), Ends: end}}}, "Log in to corp (its session ended at 08:59)\n"},
		{"Identity Center hangs: said, no Log in", State{Sessions: []Session{{Key: "corp", SignedIn: true}},
			Slots: creds.State{Default: &hang}}, "corp: Identity Center is not answering; rolecall keeps trying\n  Log out of corp\n"},
		{"a role asked for while signed out", State{Sessions: []Session{{Key: "corp", Waiting: "lab/Admin"}}},
			"Log in to corp\n(disabled) lab/Admin: waiting for sign-in to corp\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := Menu(tt.st, now)
			got := render(m[1:], 0)
			got = got[:strings.Index(got, "---")]
			if got != tt.want {
				t.Errorf("session lines:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestMenuInvalidUTF8: a profile name that is not UTF-8 (Latin-1 in the
// AWS config) is shown with a replacement character, and still loads by
// its raw name; before, its label made GetLayout fail and the whole menu
// vanished.
func TestMenuInvalidUTF8(t *testing.T) {
	bad := "caf\xe9-dev"
	d := slot("", bad, time.Hour, creds.StateOK)
	st := State{Slots: creds.State{Default: d}, Roles: []Role{{Name: bad}}, Favorites: []string{bad}, Recent: []string{bad},
		Sessions: []Session{{Key: "corp\xff", SignedIn: true}}}
	loads := 0
	var walk func([]Item)
	walk = func(items []Item) {
		for _, it := range items {
			if !utf8.ValidString(it.Label) {
				t.Errorf("label %q is not UTF-8", it.Label)
			}
			if it.Action.Kind == ActLoad && it.Action.Profile == bad {
				loads++
			}
			walk(it.Children)
		}
	}
	walk(Menu(st, now))
	if loads == 0 {
		t.Error("no entry loads the role by its raw name")
	}
	if tip := Tooltip(st, now); !utf8.ValidString(tip) {
		t.Errorf("tooltip %q is not UTF-8", tip)
	}
}

// TestAccountRanges: ranges of accounts are labelled with whole account
// names (they were cut mid-word: "logisti – media-p"), never with
// fragments of ids; the accounts of two sessions are kept apart.
func TestAccountRanges(t *testing.T) {
	var rs []Role
	names := map[string]bool{}
	for i := range 300 {
		name := fmt.Sprintf("%s-%s-%02d", []string{"billing-shared", "data-dev", "logistics", "media-platform", "ml-dev"}[i%5], []string{"prod", "stage"}[i%2], i/10)
		names[name] = true
		rs = append(rs, Role{Name: name + "/Admin", Account: name, AccountID: fmt.Sprintf("%012d", 100000000000+i), Role: "Admin", Session: "corp"},
			Role{Name: name + "/ReadOnly", Account: name, AccountID: fmt.Sprintf("%012d", 100000000000+i), Role: "ReadOnly", Session: "corp"})
	}
	rs = append(rs, Role{Name: "data-dev-01/Admin", Account: "data-dev-01", AccountID: "222222222222", Role: "Admin", Session: "lab"})
	m := Menu(State{Roles: rs, Sessions: []Session{{Key: "corp", SignedIn: true}, {Key: "lab", SignedIn: true}}}, now)
	corp, lab := findItem(m, "accounts/corp"), findItem(m, "accounts/lab")
	if corp.Label != "Accounts of corp (300)" || lab.Label != "Accounts of lab (1)" {
		t.Fatalf("sessions' accounts: %q and %q", corp.Label, lab.Label)
	}
	if len(lab.Children) != 1 || lab.Children[0].Label != "data-dev-01 · 222222222222 — Admin" {
		t.Errorf("lab's account: %+v", lab.Children)
	}
	for _, r := range corp.Children {
		first, last, ok := strings.Cut(r.Label[:strings.LastIndex(r.Label, " (")], " – ")
		if !ok || !names[first] || !names[last] {
			t.Errorf("range %q is not labelled by whole account names", r.Label)
		}
	}
}

// TestStatusLine: the status line names the account in full (it showed
// "1000…") and a profile's account and role; a profile that is the same
// role as a discovered one is listed under one name.
func TestStatusLine(t *testing.T) {
	rs := []Role{
		{Name: "prod-admin", AccountID: "123456789012", Role: "Admin", Session: "corp"},
		{Name: "payments-prod/Admin", Account: "payments-prod", AccountID: "123456789012", Role: "Admin", Session: "corp"},
		{Name: "payments-prod/ReadOnly", Account: "payments-prod", AccountID: "123456789012", Role: "ReadOnly", Session: "corp"},
		{Name: "payments-dev/Admin", Account: "payments-dev", AccountID: "123456789013", Role: "Admin", Session: "corp"},
	}
	d := slot("", "prod-admin", 42*time.Minute, creds.StateOK)
	d.Profile.AccountID, d.Profile.RoleName, d.Profile.Session = "123456789012", "Admin", "corp"
	st := State{Slots: creds.State{Default: d}, Roles: rs, Sessions: []Session{{Key: "corp", SignedIn: true}},
		Recent: []string{"payments-prod/Admin", "prod-admin"}}
	m := Menu(st, now)
	if got := m[0].Label; got != "▶ prod-admin — payments-prod/Admin — 42m" {
		t.Errorf("status line %q", got)
	}
	if r := findItem(m, "recent"); len(r.Children) != 1 || r.Children[0].Action.Profile != "payments-prod/Admin" || !r.Children[0].Checked {
		t.Errorf("one role under two names in Recent: %+v", r.Children)
	}
	acct := findItem(m, "acct/corp/123456789012/payments-prod")
	if len(acct.Children) != 2 || acct.Children[0].Label != "Admin (prod-admin)" || !acct.Children[0].Checked {
		t.Errorf("the account's entry for the profile's role: %+v", acct.Children)
	}
	unknown := slot("", "stray", time.Hour, creds.StateOK)
	unknown.Profile.AccountID, unknown.Profile.RoleName = "100000000001", "Deploy"
	if got := Menu(State{Slots: creds.State{Default: unknown}}, now)[0].Label; got != "▶ stray — 100000000001/Deploy — 1h00m" {
		t.Errorf("status line of a role not listed: %q", got)
	}
}

// TestFavoritesStay: the sixth favourite does not move the first five
// into a submenu (they jumped away at the sixth star).
func TestFavoritesStay(t *testing.T) {
	st := State{Roles: org(3)}
	for _, r := range st.Roles[:6] {
		st.Favorites = append(st.Favorites, r.Name)
	}
	m := Menu(st, now)
	var top []string
	for _, it := range m {
		if strings.HasPrefix(it.Label, "★ ") || it.Key == "favorites" {
			top = append(top, it.Label)
		}
	}
	if len(top) != 6 || top[5] != "More favourites (1)" || top[0] != "★ "+fullLabel(st.Roles[0]) {
		t.Errorf("favourites at the top level: %q", top)
	}
}
