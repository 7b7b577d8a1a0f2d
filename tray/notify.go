package tray

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gen2brain/beeep"

	"github.com/rolecall/rolecall/creds"
)

// Note is a desktop notification. Key names the event: a note is shown
// once per key.
type Note struct {
	Key   string
	Title string
	Body  string
}

// Due returns the notifications st calls for at now, and when the next one
// will be due (zero: none scheduled). It is pure; Notifier remembers what
// was shown.
//
// Events: the user code of a login in progress; an SSO session that cannot
// be renewed ending within one of the lead times; a slot whose credentials
// can no longer be refreshed (login required); a failed refresh.
func Due(st State, now time.Time, leads []time.Duration) ([]Note, time.Time) {
	var notes []Note
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, s := range st.Sessions {
		if s.LoggingIn && s.UserCode != "" {
			notes = append(notes, Note{
				Key:   "code/" + s.Key + "/" + s.UserCode,
				Title: "Log in to " + s.Key,
				Body:  fmt.Sprintf("Approve the request in your browser; check that it shows the code %s.", s.UserCode),
			})
		}
		if !s.SignedIn || s.Renewable || s.ExpiresAt.IsZero() || !now.Before(s.ExpiresAt) {
			continue
		}
		// The shortest lead that has been reached speaks; longer ones
		// passed already (or were missed while asleep: one note, not many).
		var hit time.Duration
		for _, lead := range leads {
			at := s.ExpiresAt.Add(-lead)
			if !now.Before(at) {
				if hit == 0 || lead < hit {
					hit = lead
				}
			} else {
				later(at)
			}
		}
		if hit > 0 {
			notes = append(notes, Note{
				Key:   fmt.Sprintf("ending/%s/%d/%s", s.Key, s.ExpiresAt.Unix(), hit),
				Title: fmt.Sprintf("AWS session %s ends in %s", s.Key, left(s.ExpiresAt.Sub(now)+time.Minute-time.Nanosecond)),
				Body:  "Log in again from the rolecall menu to keep your roles.",
			})
		}
	}
	slots := st.Slots.Named
	if st.Slots.Default != nil {
		slots = append([]creds.Slot{*st.Slots.Default}, slots...)
	}
	for _, s := range slots {
		name := s.Profile.Name
		switch s.State {
		case creds.StateLoginRequired:
			notes = append(notes, Note{
				Key:   "login/" + s.Name + "/" + name + "/" + s.Creds.AccessKeyID,
				Title: "Credentials for " + name + " can no longer be refreshed",
				Body:  "The SSO session has ended: log in again from the rolecall menu.",
			})
		case creds.StateError:
			notes = append(notes, Note{
				Key:   "error/" + s.Name + "/" + name + "/" + s.Creds.AccessKeyID,
				Title: "Refreshing " + name + " failed",
				Body:  firstLine(s.Err) + ". rolecall retries by itself.",
			})
		}
	}
	return notes, next
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(s, ".")
}

// Notifier shows each due note once, through Send (beeep by default).
type Notifier struct {
	// Send shows a notification; the default is beeep.Notify.
	Send func(title, body string) error

	mu    sync.Mutex
	shown map[string]bool
}

// NewNotifier returns a Notifier sending through the desktop's
// org.freedesktop.Notifications (or the platform's equivalent).
func NewNotifier(icon []byte) *Notifier {
	beeep.AppName = "rolecall"
	return &Notifier{
		Send:  func(title, body string) error { return beeep.Notify(title, body, icon) },
		shown: map[string]bool{},
	}
}

// Show sends the notes not shown before; it returns the first error.
func (n *Notifier) Show(notes []Note) error {
	var first error
	for _, note := range notes {
		n.mu.Lock()
		seen := n.shown[note.Key]
		n.shown[note.Key] = true
		n.mu.Unlock()
		if seen {
			continue
		}
		if err := n.Send(note.Title, note.Body); err != nil && first == nil {
			first = err
		}
	}
	return first
}
