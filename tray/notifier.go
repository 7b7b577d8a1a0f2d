package tray

import (
	"log/slog"
	"sync"
)

// sender shows one note on the desktop, replacing the notification of id
// replaces (0: none); it returns the new notification's id (0 when the
// desktop gives none).
type sender interface {
	send(n Note, replaces uint32) (uint32, error)
	close()
}

// Notifier shows each due note once, one notification per group on screen
// (a new note replaces the group's previous one), and runs the buttons'
// actions. On Linux it speaks org.freedesktop.Notifications itself (for
// buttons and replacement); elsewhere, or without a session bus, it falls
// back to beeep.
type Notifier struct {
	s   sender
	log *slog.Logger

	mu      sync.Mutex
	shown   map[string]bool     // note keys
	ids     map[string]uint32   // group -> notification on screen
	buttons map[uint32][]Button // notification -> its buttons
	do      func(Action)
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
	return &Notifier{s: s, log: log, shown: map[string]bool{}, ids: map[string]uint32{}, buttons: map[uint32][]Button{}}
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

// Show sends the notes not shown before; it returns the first error.
func (n *Notifier) Show(notes []Note) error {
	var first error
	for _, note := range notes {
		n.mu.Lock()
		seen := n.shown[note.Key]
		n.shown[note.Key] = true
		replaces := n.ids[note.Group]
		n.mu.Unlock()
		if seen {
			continue
		}
		n.log.Info("notification", "title", note.Title, "detail", note.Detail)
		id, err := n.s.send(note, replaces)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n.mu.Lock()
		delete(n.buttons, replaces)
		if note.Group != "" && id != 0 {
			n.ids[note.Group] = id
		}
		if len(note.Buttons) > 0 && id != 0 {
			n.buttons[id] = note.Buttons
		}
		n.mu.Unlock()
	}
	return first
}

// Send shows a one-off notice (a copy done, a login that failed).
func (n *Notifier) Send(title, body string) error {
	_, err := n.s.send(Note{Kind: NoteInfo, Title: title, Body: body}, 0)
	return err
}

// Close stops listening for button clicks.
func (n *Notifier) Close() { n.s.close() }
