package desktoptest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// watcher is a minimal org.kde.StatusNotifierWatcher: tray items register
// with it, which is all fyne.io/systray needs to know a host is there.
type watcher struct {
	mu    sync.Mutex
	items []string
}

func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	id := service
	if strings.HasPrefix(service, "/") {
		id = string(sender) + service
	}
	w.mu.Lock()
	w.items = append(w.items, id)
	w.mu.Unlock()
	return nil
}

func (w *watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// StartWatcher runs a StatusNotifierWatcher on the session until the test
// ends.
func (s *Session) StartWatcher(t testing.TB) {
	t.Helper()
	conn, err := dbus.Connect(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	const iface = "org.kde.StatusNotifierWatcher"
	if err := conn.Export(&watcher{}, "/StatusNotifierWatcher", iface); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName(iface, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("cannot own %s: %v", iface, err)
	}
}

// Notification is one org.freedesktop.Notifications.Notify call.
type Notification struct {
	ID, Replaces       uint32
	App, Summary, Body string
	Icon               string
	Actions            []string // key, label, key, label...
	Timeout            int32
	Urgency            byte // the "urgency" hint: 0 low, 1 normal, 2 critical
}

// Notifications records what is sent to org.freedesktop.Notifications.
type Notifications struct {
	conn   *dbus.Conn
	mu     sync.Mutex
	got    []Notification
	next   uint32
	closed []uint32 // CloseNotification calls, in order
}

// Notify implements the interface's method.
func (n *Notifications) Notify(app string, replaces uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	id := replaces
	if id == 0 {
		n.next++
		id = n.next + 1000 // never 0, never a small number a test could guess
	}
	urgency, _ := hints["urgency"].Value().(byte)
	n.got = append(n.got, Notification{ID: id, Replaces: replaces, App: app, Summary: summary, Body: body,
		Icon: icon, Actions: actions, Timeout: timeout, Urgency: urgency})
	n.closed = slices.DeleteFunc(n.closed, func(c uint32) bool { return c == id }) // shown again
	return id, nil
}

// GetCapabilities implements the interface's method.
func (n *Notifications) GetCapabilities() ([]string, *dbus.Error) {
	return []string{"body", "actions"}, nil
}

// Invoke emits ActionInvoked, as a click on a notification's button does.
func (n *Notifications) Invoke(t testing.TB, id uint32, key string) {
	t.Helper()
	if err := n.conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked", id, key); err != nil {
		t.Fatal(err)
	}
}

// CloseNotification implements the interface's method: it records the
// notification as taken back.
func (n *Notifications) CloseNotification(id uint32) *dbus.Error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = append(n.closed, id)
	return nil
}

// OnScreen returns the notifications shown and not taken back (the last
// one sent for each id), in the order they were first sent. Expiry by
// timeout is not modelled: a test asks about sticky ones.
func (n *Notifications) OnScreen() []Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Notification
	index := map[uint32]int{}
	for _, got := range n.got {
		if i, ok := index[got.ID]; ok {
			out[i] = got
			continue
		}
		index[got.ID] = len(out)
		out = append(out, got)
	}
	return slices.DeleteFunc(out, func(x Notification) bool { return slices.Contains(n.closed, x.ID) })
}

// GetServerInformation implements the interface's method.
func (n *Notifications) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "desktoptest", "rolecall", "1", "1.2", nil
}

// All returns what was received so far.
func (n *Notifications) All() []Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Notification(nil), n.got...)
}

// Wait waits until a notification whose summary contains s arrives.
func (n *Notifications) Wait(t testing.TB, s string, within time.Duration) Notification {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		for _, got := range n.All() {
			if strings.Contains(got.Summary, s) {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification %q; got %+v", s, n.All())
		}
	}
}

// StartNotifications runs a recording notification server on the session.
func (s *Session) StartNotifications(t testing.TB) *Notifications {
	t.Helper()
	conn, err := dbus.Connect(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &Notifications{conn: conn}
	const name = "org.freedesktop.Notifications"
	if err := conn.Export(n, "/org/freedesktop/Notifications", name); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName(name, dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("cannot own %s: %v", name, err)
	}
	return n
}
