// Package tray is rolecall's face: the menu model (a pure function of the
// state and the clock), the fyne.io/systray renderer, desktop notifications
// and start-at-login.
package tray

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// Session is an IAM Identity Center session as the tray shows it.
type Session struct {
	Key      string
	SignedIn bool
	// ExpiresAt is when the session's access token ends; Renewable means
	// rolecall renews it by itself (no warning is due then).
	ExpiresAt time.Time
	Renewable bool
	// LoggingIn is set while a login waits for approval, with its code.
	LoggingIn bool
	UserCode  string
}

// Role is a loadable role: an AWS config profile or a discovered role.
type Role struct {
	Name    string // what loads it
	Account string // account name for discovered roles, "" for profiles
	Role    string
	Session string
}

// State is everything the menu shows.
type State struct {
	Slots    creds.State
	Sessions []Session
	Roles    []Role
	// Recent are profile names loaded lately, most recent first.
	Recent    []string
	Autostart bool
}

// ActionKind says what a click does.
type ActionKind int

// The actions of the menu.
const (
	ActNone     ActionKind = iota
	ActLoad                // load Profile into the default slot
	ActLoadSlot            // load Profile into its own named slot
	ActUnload              // unload named slot Profile
	ActPin                 // pin named slot Profile
	ActUnpin               // unpin named slot Profile
	ActLogin               // log in to Session
	ActCopyEnv             // copy terminal exports
	ActCopyIDE             // copy IDE settings
	ActRefresh             // refresh every slot now
	ActAutostartOn
	ActAutostartOff
	ActQuit
)

// Action is a click's meaning.
type Action struct {
	Kind    ActionKind
	Profile string
	Session string
}

// Item is one menu entry. Items with Children are submenus.
type Item struct {
	// Key tells entries apart beyond their action: a submenu's identity
	// (its label may change), or one of several entries with one action.
	Key       string
	Label     string
	Action    Action
	Disabled  bool
	Checkable bool
	Checked   bool
	Separator bool
	Children  []Item
}

// Settings that shape the menu and the notifications.
const (
	// RecentMax is how many recent roles stand at the top of the menu.
	RecentMax = 5
	// ExpiringSoon is when the icon turns to warning before the default
	// slot's credentials end.
	ExpiringSoon = 5 * time.Minute
)

// Menu builds the menu for st at now. It is pure: same input, same menu.
func Menu(st State, now time.Time) []Item {
	var m []Item
	sep := Item{Separator: true}
	m = append(m, Item{Label: header(st.Slots.Default, now), Disabled: true})
	m = append(m, sep)
	for _, s := range st.Sessions {
		switch {
		case s.LoggingIn && s.UserCode == "": // PKCE: no code to check
			m = append(m, Item{Label: "Logging in to " + s.Key + " in the browser", Disabled: true})
		case s.LoggingIn:
			m = append(m, Item{Label: fmt.Sprintf("Logging in to %s: code %s", s.Key, s.UserCode), Disabled: true})
		case !s.SignedIn:
			m = append(m, Item{Label: "Log in to " + s.Key, Action: Action{Kind: ActLogin, Session: s.Key}})
		case s.Renewable:
			m = append(m, Item{Label: "Signed in to " + s.Key, Disabled: true})
		default:
			m = append(m, Item{Label: fmt.Sprintf("Signed in to %s until %s", s.Key, s.ExpiresAt.Local().Format("15:04")), Disabled: true})
		}
	}
	if len(st.Sessions) == 0 {
		m = append(m, Item{Label: "No sso-session in ~/.aws/config", Disabled: true})
	}
	m = append(m, sep)

	loaded := ""
	if st.Slots.Default != nil {
		loaded = st.Slots.Default.Profile.Name
	}
	roleItem := func(label, name string) Item {
		return Item{Label: label, Action: Action{Kind: ActLoad, Profile: name}, Checkable: true, Checked: name == loaded}
	}
	known := map[string]bool{}
	for _, r := range st.Roles {
		known[r.Name] = true
	}
	n := 0
	for _, name := range st.Recent {
		if n == RecentMax || !known[name] {
			continue
		}
		m = append(m, roleItem(name, name))
		n++
	}
	if n > 0 {
		m = append(m, sep)
	}
	m = append(m, roleGroups(st.Roles, roleItem)...)
	if len(st.Roles) == 0 {
		m = append(m, Item{Label: "No roles yet: log in first", Disabled: true})
	}
	m = append(m, sep)
	m = append(m, slotsMenu(st.Slots, now))
	m = append(m, sep)
	nothing := st.Slots.Default == nil && len(st.Slots.Named) == 0
	m = append(m,
		Item{Label: "Copy terminal exports", Action: Action{Kind: ActCopyEnv}},
		Item{Label: "Copy IDE settings", Action: Action{Kind: ActCopyIDE}},
		Item{Label: "Refresh now", Action: Action{Kind: ActRefresh}, Disabled: nothing},
		sep,
	)
	auto := Item{Label: "Start at login", Checkable: true, Checked: st.Autostart, Action: Action{Kind: ActAutostartOn}}
	if st.Autostart {
		auto.Action.Kind = ActAutostartOff
	}
	m = append(m, auto, Item{Label: "Quit", Action: Action{Kind: ActQuit}})
	return escapeAll(m)
}

// header is the first line: the default slot's profile and time left.
func header(d *creds.Slot, now time.Time) string {
	if d == nil {
		return "No role loaded"
	}
	switch d.State {
	case creds.StateLoginRequired:
		return d.Profile.Name + ": log in again"
	case creds.StateError:
		if !d.Creds.ValidAt(now) {
			return d.Profile.Name + ": refresh failed"
		}
	}
	if !d.Creds.ValidAt(now) {
		return d.Profile.Name + ": waiting for credentials"
	}
	return d.Profile.Name + ": " + left(d.Creds.Expiration.Sub(now)) + " left"
}

// left writes a duration as people read it: "42m", "3h05m".
func left(d time.Duration) string {
	d = d.Truncate(time.Minute)
	if d < time.Hour {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// roleGroups puts profiles in one submenu and each account's discovered
// roles in a submenu of their own, sorted.
func roleGroups(roles []Role, item func(label, name string) Item) []Item {
	var profiles []Item
	byAccount := map[string][]Item{}
	var accounts []string
	for _, r := range roles {
		if r.Account == "" {
			profiles = append(profiles, item(r.Name, r.Name))
			continue
		}
		if _, ok := byAccount[r.Account]; !ok {
			accounts = append(accounts, r.Account)
		}
		byAccount[r.Account] = append(byAccount[r.Account], item(r.Role, r.Name))
	}
	slices.Sort(accounts)
	var out []Item
	if len(profiles) > 0 {
		out = append(out, Item{Label: "Profiles", Children: sortByLabel(profiles)})
	}
	for _, a := range accounts {
		out = append(out, Item{Label: a, Children: sortByLabel(byAccount[a])})
	}
	return out
}

func sortByLabel(items []Item) []Item {
	slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.Label, b.Label) })
	return items
}

// slotsMenu lists the named slots with their time left and actions.
func slotsMenu(st creds.State, now time.Time) Item {
	menu := Item{Label: fmt.Sprintf("Named slots (%d)", len(st.Named))}
	for _, s := range st.Named {
		label := s.Name + ": "
		switch {
		case s.State == creds.StateLoginRequired:
			label += "log in again"
		case !s.Creds.ValidAt(now):
			label += string(s.State)
		default:
			label += left(s.Creds.Expiration.Sub(now)) + " left"
		}
		pin := Item{Label: "Pinned", Checkable: true, Checked: s.Pinned, Action: Action{Kind: ActPin, Profile: s.Name}}
		if s.Pinned {
			pin.Action.Kind = ActUnpin
		}
		menu.Children = append(menu.Children, Item{Label: label, Children: []Item{
			pin,
			{Label: "Unload", Action: Action{Kind: ActUnload, Profile: s.Name}},
		}})
	}
	if len(st.Named) > 0 {
		menu.Children = append(menu.Children, Item{Separator: true})
	}
	add := Item{Label: "Serve the default role in its own slot too", Disabled: true}
	if st.Default != nil {
		add = Item{Label: "Serve " + st.Default.Profile.Name + " in its own slot too", Action: Action{Kind: ActLoadSlot, Profile: st.Default.Profile.Name}}
	}
	menu.Children = append(menu.Children, add)
	return menu
}

// escapeAll doubles "_" in labels: GTK hosts read one as a mnemonic.
func escapeAll(items []Item) []Item {
	for i := range items {
		items[i].Label = strings.ReplaceAll(items[i].Label, "_", "__")
		items[i].Children = escapeAll(items[i].Children)
	}
	return items
}

// IconKind is the state the tray icon shows.
type IconKind int

// The icons.
const (
	IconNone    IconKind = iota // no role loaded
	IconActive                  // serving valid credentials
	IconWarning                 // expiring soon, or a login is needed
	IconError                   // refreshing fails
)

// Icon picks the icon for st at now.
func Icon(st State, now time.Time) IconKind {
	d := st.Slots.Default
	if d == nil {
		for _, s := range st.Slots.Named {
			if s.State == creds.StateLoginRequired {
				return IconWarning
			}
		}
		return IconNone
	}
	switch {
	case d.State == creds.StateLoginRequired:
		return IconWarning
	case d.State == creds.StateError && !d.Creds.ValidAt(now):
		return IconError
	case d.State == creds.StateError:
		return IconWarning
	case !d.Creds.ValidAt(now):
		return IconWarning
	case d.Creds.Expiration.Sub(now) < ExpiringSoon:
		return IconWarning
	}
	return IconActive
}

// Tooltip is the icon's hover text.
func Tooltip(st State, now time.Time) string {
	return "rolecall: " + header(st.Slots.Default, now)
}
