package tray

import (
	"context"
	"log/slog"
	"sync"
)

// sender shows one note on the desktop, replacing the notification of id
// replaces (0: none); it returns the new notification's id (0 when the
// desktop gives none). take closes a notification it showed.
type sender interface {
	send(n Note, replaces uint32) (uint32, error)
	take(id uint32) error
	close()
}

// Notifier shows each due note once, one notification per group on screen
// (a new note replaces the group's previous one), takes a note back when
// it is no longer due (what it said stopped being true: the login
// completed, the session ended, Identity Center answers again), and takes
// every note back at Close (Quit). It runs the buttons' actions. On Linux
// it speaks org.freedesktop.Notifications itself (for buttons, replacement
// and CloseNotification); elsewhere, or without a session bus, it falls
// back to beeep (which can do none of these).
type Notifier struct {
	s   sender
	log *slog.Logger

	mu      sync.Mutex
	shown   map[string]bool     // keys of the due notes shown
	screen  map[string]onScreen // group -> the due note on screen
	notices map[string]uint32   // group -> a one-off notice on screen
	buttons map[uint32][]Button // notification -> its buttons
	do      func(Action)
}

// onScreen is a due note shown: its notification and note.
type onScreen struct {
	id   uint32
	note Note
}

// NewNotifier returns a Notifier for this desktop; icon is the
// application's icon (for the fallback). Close it when done.
func NewNotifier(icon []byte, log *slog.Logger) *Notifier {
	n := newNotifier(nil, log)
	n.s = platformSender(icon, n.invoked, n.log)
	return n
}

func newNotifier(s sender, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{s: s, log: log, shown: map[string]bool{}, screen: map[string]onScreen{},
		notices: map[string]uint32{}, buttons: map[uint32][]Button{}}
}

// setActions sets what a button click does (the tray's actions).
func (n *Notifier) setActions(do func(Action)) {
	n.mu.Lock()
	n.do = do
	n.mu.Unlock()
}

// invoked runs the action of button key of notification id.
func (n *Notifier) invoked(id uint32, key string) {
	n.mu.Lock()
	do := n.do
	var act *Action
	for _, b := range n.buttons[id] {
		if b.Key == key {
			act = &b.Action
		}
	}
	n.mu.Unlock()
	if act == nil || do == nil {
		n.log.Debug("notification action ignored", "id", id, "action", key)
		return
	}
	go do(*act)
}

// Show makes the screen match the notes due now: it sends the ones not
// shown before, and takes back those of groups with no note due any more
// (replaced by their Resolved note, if any). It returns the first error.
func (n *Notifier) Show(notes []Note) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	due := map[string]bool{}
	for _, note := range notes {
		due[note.Group] = true
		n.mu.Lock()
		seen := n.shown[note.Key]
		n.shown[note.Key] = true
		replaces := n.screen[note.Group].id
		if replaces == 0 && !seen { // a notice of the group ("answers again") gives way
			replaces = n.notices[note.Group]
			delete(n.notices, note.Group)
		}
		n.mu.Unlock()
		if seen {
			continue
		}
		id, err := n.send(note, replaces)
		if err != nil {
			keep(err)
			continue
		}
		n.mu.Lock()
		if id != 0 {
			n.screen[note.Group] = onScreen{id: id, note: note}
		}
		n.mu.Unlock()
	}
	n.mu.Lock()
	var gone []onScreen
	for g, on := range n.screen {
		if !due[g] {
			gone = append(gone, on)
			delete(n.screen, g)
			delete(n.shown, on.note.Key) // due again later: shown again
		}
	}
	n.mu.Unlock()
	for _, on := range gone {
		if r := on.note.Resolved; r != nil {
			id, err := n.send(*r, on.id)
			keep(err)
			if err == nil && id != 0 {
				n.mu.Lock()
				n.notices[on.note.Group] = id // a notice now: Close takes it back
				n.mu.Unlock()
			}
			continue
		}
		keep(n.take(on.id))
	}
	return first
}

// Notice shows a one-off note (a failed action, a copy done); a notice of
// the same group replaces the one on screen. Close takes it back.
func (n *Notifier) Notice(note Note) error {
	n.mu.Lock()
	replaces := n.notices[note.Group]
	n.mu.Unlock()
	id, err := n.send(note, replaces)
	if err != nil {
		return err
	}
	if id != 0 {
		n.mu.Lock()
		n.notices[note.Group] = id
		n.mu.Unlock()
	}
	return nil
}

// Send shows a one-off notice of title and body.
func (n *Notifier) Send(title, body string) error {
	return n.Notice(Note{Kind: NoteInfo, Title: title, Body: body, Group: "notice/" + title})
}

// send shows note in place of notification replaces, logs it (with its
// detail: a raw error goes to the log, not to the screen) and keeps its
// buttons.
func (n *Notifier) send(note Note, replaces uint32) (uint32, error) {
	note.Title, note.Body = Printable(note.Title), Printable(note.Body)
	level := slog.LevelInfo
	if note.Kind != NoteInfo {
		level = slog.LevelWarn
	}
	n.log.Log(context.Background(), level, "notification", "title", note.Title, "detail", note.Detail)
	id, err := n.s.send(note, replaces)
	if err != nil {
		return 0, err
	}
	n.mu.Lock()
	delete(n.buttons, replaces)
	if len(note.Buttons) > 0 && id != 0 {
		n.buttons[id] = note.Buttons
	}
	n.mu.Unlock()
	return id, nil
}

// take closes notification id.
func (n *Notifier) take(id uint32) error {
	n.mu.Lock()
	delete(n.buttons, id)
	n.mu.Unlock()
	return n.s.take(id)
}

// Close takes back every notification it shows (what they say ends with
// rolecall) and stops listening for button clicks.
func (n *Notifier) Close() {
	n.mu.Lock()
	var ids []uint32
	for _, on := range n.screen {
		ids = append(ids, on.id)
	}
	for _, id := range n.notices {
		ids = append(ids, id)
	}
	clear(n.screen)
	clear(n.notices)
	n.mu.Unlock()
	for _, id := range ids {
		if err := n.take(id); err != nil {
			n.log.Debug("notification not taken back", "id", id, "err", err)
		}
	}
	n.s.close()
}
