package tray

import (
	"time"

	"github.com/rolecall/rolecall/creds"
)

// IconKind is the state the tray icon shows.
type IconKind int

// The icons.
const (
	IconNone    IconKind = iota // no role loaded
	IconActive                  // serving valid credentials
	IconWarning                 // ending soon, or a login is needed
	IconError                   // refreshing fails and nothing valid is served
)

// ExpiringSoon is when the icon turns to warning before the default slot's
// credentials end without a refresh in sight.
const ExpiringSoon = 5 * time.Minute

// Icon picks the icon for st at now. lead is the longest notification lead
// time: from the moment a session is that close to its end (the "ends in
// 15m" warning), the icon warns too.
func Icon(st State, now time.Time, lead time.Duration) IconKind {
	d := st.Slots.Default
	loginNeeded := false
	for _, s := range st.Slots.Named {
		if s.State == creds.StateLoginRequired {
			loginNeeded = true
		}
	}
	// A session ending (or ended) that a loaded slot depends on.
	ending := false
	for _, s := range st.Sessions {
		if !usedBy(st.Slots, s.Key) {
			continue
		}
		if end := s.End(); !s.LoggingIn && (!s.SignedIn || (!end.IsZero() && !now.Before(end.Add(-lead)))) {
			ending = true
		}
	}
	switch {
	case d == nil && (loginNeeded || ending):
		return IconWarning
	case d == nil:
		return IconNone
	case d.State == creds.StateError && !d.Creds.ValidAt(now):
		return IconError
	case d.State == creds.StateLoginRequired, d.State == creds.StateError, !d.Creds.ValidAt(now):
		return IconWarning
	case d.Creds.Expiration.Sub(now) < ExpiringSoon:
		return IconWarning
	case loginNeeded || ending:
		return IconWarning
	}
	return IconActive
}

// usedBy reports whether a slot holds a role of session.
func usedBy(st creds.State, session string) bool {
	if st.Default != nil && st.Default.Profile.Session == session {
		return true
	}
	for _, s := range st.Named {
		if s.Profile.Session == session {
			return true
		}
	}
	return false
}

// Tooltip is the icon's hover text.
func Tooltip(st State, now time.Time) string {
	if st.Slots.Default == nil {
		return "rolecall: " + creds.Say(creds.MenuNoRole)
	}
	d := *st.Slots.Default
	return Printable("rolecall: " + newRoleIndex(st).describe(d.Profile) + " — " + slotState(d, now))
}
