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

// Session is an IAM Identity Center session (or an `aws login` one) as
// the tray shows it.
type Session struct {
	Key string
	// Label is how people know the session when it is not its key (an
	// `aws login` session: "alice in 111111111111"); Login marks those.
	Label    string
	Login    bool
	SignedIn bool
	// ExpiresAt is when the session's access token ends; Renewable means
	// rolecall renews the token by itself.
	ExpiresAt time.Time
	Renewable bool
	// Ends is when Identity Center ends a renewable session (sign-in time
	// plus the session length); zero when unknown.
	Ends time.Time
	// LoggingIn is set while a login waits for approval, with its code.
	LoggingIn bool
	UserCode  string
}

// Name is the session as menus and notifications name it.
func (s Session) Name() string {
	if s.Label != "" {
		return s.Label
	}
	return s.Key
}

// End is when the session ends for good: the token's end for a session
// that cannot be renewed, Ends for one that can (zero: unknown).
func (s Session) End() time.Time {
	if s.Renewable {
		return s.Ends
	}
	return s.ExpiresAt
}

// Role is a loadable role: an AWS config profile or a discovered role.
type Role struct {
	Name      string // what loads it
	Account   string // account name or id of a discovered role; "" for a profile
	AccountID string
	Role      string
	Session   string
}

// State is everything the menu shows.
type State struct {
	Slots    creds.State
	Sessions []Session
	Roles    []Role
	// Recent are profile names loaded lately, most recent first;
	// Favorites the ones the user starred.
	Recent    []string
	Favorites []string
	Autostart bool
	// Grants are the grants, as their owner lists them (grants.go).
	Grants []creds.Grant
	// NoClipboard says why copying cannot work ("" when it can), e.g.
	// "install xclip, xsel or wl-clipboard".
	NoClipboard string
}

// ActionKind says what a click does.
type ActionKind int

// The actions of the menu.
const (
	ActNone         ActionKind = iota
	ActLoad                    // load Profile into the default slot
	ActLoadSlot                // load Profile into its own named slot
	ActUnload                  // unload named slot Profile
	ActPin                     // pin named slot Profile
	ActUnpin                   // unpin named slot Profile
	ActLogin                   // log in to Session
	ActCopyEnv                 // copy terminal exports
	ActCopyIDE                 // copy IDE settings
	ActRefresh                 // refresh every slot now
	ActAutostartOn             //
	ActAutostartOff            //
	ActQuit                    //
	ActCopyCode                // copy the user code of Session's login
	ActOpenBrowser             // open the browser again for Session's login
	ActCancelLogin             // cancel Session's login
	ActFavorite                // star Profile
	ActUnfavorite              // unstar Profile
	ActFindRole                // open the role picker
	ActConsole                 // open the AWS console as slot Profile's role ("" the default slot)
	ActRevokeGrant             // revoke grant Grant (grants.go)
	ActNewSession              // end Session's Identity Center session and sign in anew
)

// Action is a click's meaning.
type Action struct {
	Kind    ActionKind
	Profile string
	Session string
	Grant   string
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

// Limits of the menu.
const (
	// RecentMax is how many recent roles the menu lists.
	RecentMax = 10
	// MaxLevel is the most entries a submenu of roles or accounts holds;
	// longer lists are folded into ranges.
	MaxLevel = 25
	// FavoritesInline is how many favourites stand at the top level; more
	// go into a submenu.
	FavoritesInline = 5
)

// Menu builds the menu for st at now. It is pure: same input, same menu.
// The fixed entries come first and the top level stays short whatever the
// number of roles; accounts are folded into ranges of at most MaxLevel.
func Menu(st State, now time.Time) []Item {
	sep := Item{Separator: true}
	roles := newRoleIndex(st)
	m := []Item{statusItem(st, roles, now)}
	m = append(m, sessionItems(st)...)
	m = append(m, sep)
	if len(st.Roles) > 0 {
		m = append(m, Item{Label: "Find a role…", Action: Action{Kind: ActFindRole}})
	}
	m = append(m, roles.favorites()...)
	if r := roles.recent(); len(r.Children) > 0 {
		m = append(m, r)
	}
	m = append(m, roles.groups()...)
	if len(st.Roles) == 0 {
		m = append(m, Item{Label: "No roles yet: log in first", Disabled: true})
	}
	if len(st.Slots.Named) > 0 {
		m = append(m, sep, Item{Label: "Named slots", Disabled: true})
		for _, s := range st.Slots.Named {
			m = append(m, slotItem(s, now))
		}
	}
	m = append(m, grantItems(st.Grants, now)...)
	m = append(m, sep)
	nothing := st.Slots.Default == nil && len(st.Slots.Named) == 0
	m = append(m, copyItem("Copy terminal exports", ActCopyEnv, st.NoClipboard),
		copyItem("Copy IDE settings", ActCopyIDE, st.NoClipboard),
		Item{Label: "Refresh now", Action: Action{Kind: ActRefresh}, Disabled: nothing},
		sep)
	auto := Item{Label: "Start at login", Checkable: true, Checked: st.Autostart, Action: Action{Kind: ActAutostartOn}}
	if st.Autostart {
		auto.Action.Kind = ActAutostartOff
	}
	m = append(m, auto, Item{Label: "Quit", Action: Action{Kind: ActQuit}})
	return escapeAll(m)
}

// statusItem is the first line: the default slot's role and time left. With
// a role loaded it is a submenu of what can be done with that role.
func statusItem(st State, roles *roleIndex, now time.Time) Item {
	d := st.Slots.Default
	if d == nil {
		return Item{Key: "status", Label: "No role loaded", Disabled: true}
	}
	it := Item{Key: "status", Label: "▶ " + status(*d, now)}
	name := d.Profile.Name
	if slices.Contains(st.Favorites, name) {
		it.Children = append(it.Children, Item{Label: "★ Remove from favourites", Action: Action{Kind: ActUnfavorite, Profile: name}})
	} else {
		it.Children = append(it.Children, Item{Label: "☆ Add to favourites", Action: Action{Kind: ActFavorite, Profile: name}})
	}
	if !slices.ContainsFunc(st.Slots.Named, func(s creds.Slot) bool { return s.Name == name }) {
		it.Children = append(it.Children, Item{Label: "Serve it in its own slot too", Action: Action{Kind: ActLoadSlot, Profile: name}})
	}
	if d.Creds.ValidAt(now) {
		it.Children = append(it.Children, Item{Label: "Open AWS console", Action: Action{Kind: ActConsole, Profile: d.Name}})
	}
	if d.State == creds.StateLoginRequired && d.Profile.Session != "" && !roles.loggingIn(d.Profile.Session) {
		it.Children = append(it.Children, Item{Label: "Log in to " + d.Profile.Session, Action: Action{Kind: ActLogin, Session: d.Profile.Session}})
	}
	return it
}

// status describes a slot: "payments-prod-admin — 1234…/Admin — 59m".
func status(s creds.Slot, now time.Time) string {
	p := s.Profile
	who := p.Name
	var acct []string
	if p.AccountID != "" && !strings.Contains(p.Name, p.AccountID) {
		id := p.AccountID
		if len(id) > 4 {
			id = id[:4] + "…"
		}
		acct = append(acct, id)
	}
	if p.RoleName != "" && !strings.Contains(p.Name, p.RoleName) {
		acct = append(acct, p.RoleName)
	}
	if len(acct) > 0 {
		who += " — " + strings.Join(acct, "/")
	}
	switch {
	case s.State == creds.StateLoginRequired:
		return who + " — log in again"
	case s.State == creds.StateError && !s.Creds.ValidAt(now):
		return who + " — refresh failed"
	case !s.Creds.ValidAt(now):
		return who + " — waiting for credentials"
	case s.State == creds.StateError:
		return who + " — " + left(s.Creds.Expiration.Sub(now)) + ", refresh failing"
	}
	return who + " — " + left(s.Creds.Expiration.Sub(now))
}

// sessionItems are the sign-in lines: one per session, three while a
// login waits for approval.
func sessionItems(st State) []Item {
	if len(st.Sessions) == 0 {
		return []Item{{Label: "No sso-session in ~/.aws/config", Disabled: true}}
	}
	var m []Item
	for _, s := range st.Sessions {
		of := ""
		if len(st.Sessions) > 1 {
			of = " (" + s.Name() + ")"
		}
		switch {
		case s.LoggingIn && s.UserCode == "": // PKCE: no code to check
			m = append(m, Item{Label: "Logging in to " + s.Name() + " in the browser", Disabled: true},
				Item{Label: "Cancel login" + of, Action: Action{Kind: ActCancelLogin, Session: s.Key}})
		case s.LoggingIn:
			code := copyItem("Copy code "+s.UserCode+of, ActCopyCode, st.NoClipboard)
			code.Action.Session = s.Key
			m = append(m, code,
				Item{Label: "Open browser again" + of, Action: Action{Kind: ActOpenBrowser, Session: s.Key}},
				Item{Label: "Cancel login" + of, Action: Action{Kind: ActCancelLogin, Session: s.Key}})
		case !s.SignedIn:
			m = append(m, Item{Label: "Log in to " + s.Name(), Action: Action{Kind: ActLogin, Session: s.Key}})
		case s.End().IsZero():
			m = append(m, Item{Key: "session/" + s.Key, Label: "Signed in to " + s.Name(), Disabled: true}, newSession(s.Key, of))
		default:
			m = append(m, Item{Key: "session/" + s.Key, Label: fmt.Sprintf("Signed in to %s until %s", s.Name(), s.End().Local().Format("15:04")), Disabled: true},
				newSession(s.Key, of))
		}
	}
	return m
}

// newSession is the entry that gives a signed-in session its full length
// again (signing in again would keep its end).
func newSession(session, of string) Item {
	return Item{Key: "new-session/" + session, Label: "Start a new session" + of, Action: Action{Kind: ActNewSession, Session: session}}
}

// copyItem is a copy entry, disabled with the hint when copying cannot work.
func copyItem(label string, kind ActionKind, noClipboard string) Item {
	if noClipboard != "" {
		return Item{Label: label + " (" + noClipboard + ")", Disabled: true, Action: Action{Kind: kind}}
	}
	return Item{Label: label, Action: Action{Kind: kind}}
}

// slotItem is a named slot, "checkout-dev · pinned · 59m", with its actions
// one level below (a third level renders empty on some panels).
func slotItem(s creds.Slot, now time.Time) Item {
	parts := []string{s.Name}
	if s.Pinned {
		parts = append(parts, "pinned")
	}
	switch {
	case s.State == creds.StateLoginRequired:
		parts = append(parts, "log in again")
	case s.State == creds.StateError && !s.Creds.ValidAt(now):
		parts = append(parts, "refresh failed")
	case !s.Creds.ValidAt(now):
		parts = append(parts, string(s.State))
	default:
		parts = append(parts, left(s.Creds.Expiration.Sub(now)))
	}
	pin := Item{Label: "Pin (keep across restarts)", Action: Action{Kind: ActPin, Profile: s.Name}}
	if s.Pinned {
		pin = Item{Label: "Unpin", Action: Action{Kind: ActUnpin, Profile: s.Name}}
	}
	it := Item{Key: "slot/" + s.Name, Label: strings.Join(parts, " · "), Children: []Item{
		{Label: "Unload", Action: Action{Kind: ActUnload, Profile: s.Name}},
		pin,
	}}
	if s.Creds.ValidAt(now) {
		it.Children = append(it.Children, Item{Label: "Open AWS console", Action: Action{Kind: ActConsole, Profile: s.Name}})
	}
	return it
}

// left writes a duration as people read it: "42m", "3h05m".
func left(d time.Duration) string {
	d = d.Truncate(time.Minute)
	if d < time.Hour {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// escapeAll doubles "_" in labels: GTK hosts read one as a mnemonic.
func escapeAll(items []Item) []Item {
	for i := range items {
		items[i].Label = strings.ReplaceAll(items[i].Label, "_", "__")
		items[i].Children = escapeAll(items[i].Children)
	}
	return items
}
