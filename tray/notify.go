package tray

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// NoteKind is how serious a notification is; it picks its icon.
type NoteKind int

// The kinds of notification.
const (
	NoteInfo NoteKind = iota
	NoteWarning
	NoteError
)

// Button is a notification action: its key on the bus ("login") and what
// it does.
type Button struct {
	Key, Label string
	Action     Action
}

// Note is a desktop notification.
type Note struct {
	// Key names the event: a note is shown once per key. Group names what
	// the event is about (a session, or a slot without one): a note
	// replaces the group's previous one on screen.
	Key, Group string
	Kind       NoteKind
	Title      string
	Body       string
	// Detail goes to the log only (a raw error, for instance).
	Detail  string
	Buttons []Button
	// Sticky notes stay until dismissed.
	Sticky bool
	// Resolved takes the note's place when what it says stops being true
	// ("Identity Center answers again"); without it the note is closed
	// then.
	Resolved *Note
}

// Reason turns a failure, as a slot records it, into a few words a person
// understands (from creds' texts); the raw text goes to the log.
func Reason(err string) string { return creds.Say(why(err)) }

// why sorts a failure's raw text into one of creds' Why texts. A server
// that does not answer in time (a timeout, a reset, a 5xx) is told apart
// from a network that is not there (no route, no DNS).
func why(err string) creds.Text {
	s := strings.ToLower(err)
	has := func(subs ...string) bool {
		return slices.ContainsFunc(subs, func(x string) bool { return strings.Contains(s, x) })
	}
	switch {
	case has("no such host", "network is unreachable", "no route to host"):
		return creds.WhyNetwork
	case has("i/o timeout", "context deadline exceeded", "tls handshake timeout", "timeout awaiting", "connection refused",
		"connection reset", "unexpected eof", ": eof", "statuscode: 500", "statuscode: 502", "statuscode: 503", "statuscode: 504", "dial tcp"):
		return creds.WhyNotAnswering
	case has("login required", "unauthorizedexception", "no longer accepts", "renewal refused", "invalid_grant", "expiredtoken"):
		return creds.WhyRefused
	case has("forbiddenexception", "accessdenied", "access denied", "not authorized", "no access"):
		return creds.WhyPermission
	case has("throttl", "toomanyrequests", "rate exceeded"):
		return creds.WhyThrottled
	case has("resourcenotfound", "not found"):
		return creds.WhyNotFound
	}
	return creds.WhyUnexpected
}

// next is what to do after a failure of kind w.
var next = map[creds.Text]creds.Text{
	creds.WhyNetwork:      creds.NextNetwork,
	creds.WhyNotAnswering: creds.NextNotAnswering,
	creds.WhyRefused:      creds.NextRefused,
	creds.WhyPermission:   creds.NextPermission,
	creds.WhyThrottled:    creds.NextThrottled,
	creds.WhyNotFound:     creds.NextNotFound,
	creds.WhyUnexpected:   creds.NextUnexpected,
}

// advice is a failure in a sentence: what happened and what to do.
func advice(err string) string {
	w := why(err)
	return creds.Say(creds.NoteFailBody, creds.Say(w), creds.Say(next[w]))
}

// outage reports whether the slots of session fail because Identity
// Center does not answer (or cannot be reached): a login would not help,
// rolecall keeps trying.
func outage(st creds.State, session string) bool {
	return slices.ContainsFunc(slotsOf(st), func(s creds.Slot) bool {
		if s.Profile.Session != session || s.State != creds.StateError {
			return false
		}
		w := why(s.Err)
		return w == creds.WhyNotAnswering || w == creds.WhyNetwork
	})
}

// Due returns the notifications st calls for at now, and when the next one
// will be due (zero: none scheduled). It is pure; Notifier remembers what
// was shown.
//
// Per session (or per slot without one) at most one note stands for each
// render: the login code; the session ending within a lead time (renewable
// sessions too: Identity Center ends them sso_session_duration after
// sign-in), when a loaded role uses it; and for its slots, in order of
// gravity: Identity Center not answering (no Log in: it would not help;
// "answers again" when it does), credentials expired unrefreshed, the
// session ended (login required; not while a login of it is under way or
// done), refreshing fails. A note no longer due is taken back (Notifier).
func Due(st State, now time.Time, leads []time.Duration) ([]Note, time.Time) {
	var notes []Note
	var next time.Time
	later := func(t time.Time) {
		if !t.After(now) {
			return
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	bySession := map[string]Session{}
	for _, s := range st.Sessions {
		bySession[s.Key] = s
		if n, ok := sessionNote(s, now, leads, later, st.NoClipboard == "", usedBy(st.Slots, s.Key)); ok {
			notes = append(notes, n)
		}
	}
	groups, order := slotGroups(st.Slots, now, later)
	for _, g := range order {
		if n, ok := groupNote(st, g, groups[g], bySession); ok {
			notes = append(notes, n)
		}
	}
	return notes, next
}

// groupNote is the note for one group of slots (a session's, or the
// restored slots not yet named), if any is due.
func groupNote(st State, g string, gr *slotGroup, bySession map[string]Session) (Note, bool) {
	session, _ := strings.CutPrefix(g, "session/")
	if session == g {
		session = ""
	}
	var login []Button
	if session != "" && !bySession[session].LoggingIn {
		login = []Button{{Key: "login", Label: "Log in", Action: Action{Kind: ActLogin, Session: session}}}
	}
	switch {
	case session != "" && outage(st.Slots, session):
		bad := slices.Concat(gr.expired, gr.failing)
		n := Note{Key: "outage/" + session, Group: g, Kind: NoteWarning,
			Title: creds.Say(creds.NoteNotAnswering, session), Body: creds.Say(creds.NoteNotAnsweringBody),
			Detail: bad[0].Err, Sticky: true,
			Resolved: &Note{Key: "answers/" + session, Group: g, Kind: NoteInfo,
				Title: creds.Say(creds.NoteAnswersAgain, session), Body: creds.Say(creds.NoteAnswersAgainBody)}}
		if len(gr.expired) > 0 { // worse now: nothing valid is served
			n.Key += "/expired/" + keys(gr.expired)
			n.Kind, n.Title = NoteError, creds.Say(creds.NoteExpired, names(gr.expired))
			n.Body = advice(bad[0].Err)
		}
		return n, true
	case len(gr.expired) > 0:
		if !loginHelps(gr.expired) {
			login = nil
		}
		return Note{Key: "expired/" + keys(gr.expired), Group: g, Kind: NoteError,
			Title:  creds.Say(creds.NoteExpired, names(gr.expired)),
			Body:   expiredBody(gr.expired[0], session),
			Detail: gr.expired[0].Err, Buttons: login, Sticky: true}, true
	case len(gr.ended) > 0 && session != "" && (bySession[session].LoggingIn || bySession[session].SignedIn):
		// Not ended: a login is under way (its code note stands) or
		// done (the slots are being fetched again).
	case len(gr.ended) > 0 && session == "":
		// Restored slots not yet named (their session is known once
		// signed in): one note for them all, not one each.
		return Note{Key: "signin/" + keys(gr.ended), Group: g, Kind: NoteWarning,
			Title: creds.Say(creds.NoteSignInNeeded, names(gr.ended)),
			Body:  creds.Say(creds.NoteEndedBody, names(gr.ended)), Detail: gr.ended[0].Err, Sticky: true}, true
	case len(gr.ended) > 0:
		return Note{Key: "ended/" + keys(gr.ended), Group: g, Kind: NoteWarning,
			Title: creds.Say(creds.NoteEnded, session),
			Body:  creds.Say(creds.NoteEndedBody, names(gr.ended)), Detail: gr.ended[0].Err,
			Buttons: login, Sticky: true}, true
	case len(gr.failing) > 0:
		why := Reason(gr.failing[0].Err)
		return Note{Key: "failing/" + why + "/" + keys(gr.failing), Group: g, Kind: NoteWarning,
			Title:  creds.Say(creds.NoteFailing, names(gr.failing), why),
			Body:   creds.Say(creds.NoteFailingBody),
			Detail: gr.failing[0].Err}, true
	}
	return Note{}, false
}

// slotGroup is what is wrong with the slots of one session (or one slot
// without a session), in order of gravity.
type slotGroup struct {
	expired, ended, failing []creds.Slot
}

// slotGroups sorts the slots in trouble by session; later is told when
// credentials still served will expire (the expiry notice is due then).
func slotGroups(st creds.State, now time.Time, later func(time.Time)) (map[string]*slotGroup, []string) {
	groups := map[string]*slotGroup{}
	var order []string
	for _, s := range slotsOf(st) {
		g := "slot/" + s.Name
		switch {
		case s.Profile.Session != "":
			g = "session/" + s.Profile.Session
		case s.State == creds.StateLoginRequired:
			g = "signin" // restored by name, session not known yet
		}
		if groups[g] == nil {
			groups[g] = &slotGroup{}
			order = append(order, g)
		}
		gr := groups[g]
		switch {
		case s.State == creds.StateOK || s.State == creds.StateRefreshing:
			continue
		case s.Creds.AccessKeyID != "" && !s.Creds.ValidAt(now):
			gr.expired = append(gr.expired, s)
		case s.State == creds.StateLoginRequired:
			gr.ended = append(gr.ended, s)
		case s.State == creds.StateError:
			gr.failing = append(gr.failing, s)
		}
		if s.Creds.AccessKeyID != "" {
			later(s.Creds.Expiration)
		}
	}
	return groups, order
}

// sessionNote is the login code, or the session ending warning (only for
// a session a loaded role uses).
func sessionNote(s Session, now time.Time, leads []time.Duration, later func(time.Time), clipboard, used bool) (Note, bool) {
	g := "session/" + s.Key
	if s.LoggingIn {
		if s.UserCode == "" {
			return Note{}, false
		}
		n := Note{Key: "code/" + s.Key + "/" + s.UserCode, Group: g, Kind: NoteInfo, Sticky: true,
			Title: creds.Say(creds.NoteCode, s.Name()),
			Body:  creds.Say(creds.NoteCodeBody, s.UserCode)}
		if clipboard {
			n.Buttons = append(n.Buttons, Button{Key: "copy-code", Label: "Copy code", Action: Action{Kind: ActCopyCode, Session: s.Key}})
		}
		n.Buttons = append(n.Buttons, Button{Key: "open-browser", Label: "Open browser", Action: Action{Kind: ActOpenBrowser, Session: s.Key}})
		return n, true
	}
	end := s.End()
	if !used || !s.SignedIn || end.IsZero() || !now.Before(end) {
		return Note{}, false
	}
	// The shortest lead reached speaks; longer ones passed already (or
	// were missed while asleep: one note, not many).
	var hit time.Duration
	for _, lead := range leads {
		if at := end.Add(-lead); !now.Before(at) {
			if hit == 0 || lead < hit {
				hit = lead
			}
		} else {
			later(at)
		}
	}
	if hit == 0 {
		return Note{}, false
	}
	// A renewable session ends at its fixed end whatever happens: only a
	// new session helps. A token that cannot be renewed: a login does.
	body := creds.Say(creds.NoteEndingBody)
	newSession := Button{Key: "new-session", Label: "Start a new session", Action: Action{Kind: ActNewSession, Session: s.Key}}
	buttons := []Button{{Key: "login", Label: "Log in", Action: Action{Kind: ActLogin, Session: s.Key}}, newSession}
	switch {
	case s.Login: // `aws login`: 12 hours after its sign-in
		body = creds.Say(creds.NoteEndingLoginBody)
		buttons = []Button{newSession}
	case s.Renewable:
		body = creds.Say(creds.NoteEndingRenewableBody)
		buttons = []Button{newSession}
	}
	return Note{Key: fmt.Sprintf("ending/%s/%d/%s", s.Key, end.Unix(), hit), Group: g, Kind: NoteWarning, Sticky: true,
		Title:   creds.Say(creds.NoteEnding, s.Name(), left(end.Sub(now)+time.Minute-time.Nanosecond)),
		Body:    body,
		Buttons: buttons}, true
}

// loginHelps reports whether logging in can bring slots back: their
// session ended or was refused, not a network or server failure.
func loginHelps(slots []creds.Slot) bool {
	return slices.ContainsFunc(slots, func(s creds.Slot) bool {
		return s.State == creds.StateLoginRequired || why(s.Err) == creds.WhyRefused
	})
}

func expiredBody(s creds.Slot, session string) string {
	if session == "" || s.State == creds.StateError {
		return creds.Say(creds.NoteExpiredRetry, Reason(s.Err))
	}
	return creds.Say(creds.NoteExpiredLogin)
}

func slotsOf(st creds.State) []creds.Slot {
	var out []creds.Slot
	if st.Default != nil {
		out = append(out, *st.Default)
	}
	return append(out, st.Named...)
}

// names lists profiles for a title: "dev", "dev and prod", "dev and 2 more".
func names(slots []creds.Slot) string {
	var ns []string
	for _, s := range slots {
		if !slices.Contains(ns, s.Profile.Name) {
			ns = append(ns, s.Profile.Name)
		}
	}
	switch len(ns) {
	case 1:
		return ns[0]
	case 2:
		return ns[0] + " and " + ns[1]
	}
	return fmt.Sprintf("%s and %d more", ns[0], len(ns)-1)
}

// keys identifies the credentials an event is about: the same failure of
// the same credentials is one event.
func keys(slots []creds.Slot) string {
	var ks []string
	for _, s := range slots {
		ks = append(ks, s.Name+"="+s.Creds.AccessKeyID)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}
