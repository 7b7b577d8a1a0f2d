package tray

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/godbus/dbus/v5"
)

// The freedesktop notification service
// (https://specifications.freedesktop.org/notification-spec/latest/).
const (
	notifyName  = "org.freedesktop.Notifications"
	notifyPath  = "/org/freedesktop/Notifications"
	notifyIface = "org.freedesktop.Notifications"
)

// platformSender speaks org.freedesktop.Notifications on the session bus;
// without a bus, beeep (which tries notify-send too).
func platformSender(icon []byte, invoked func(id uint32, key string), log *slog.Logger) sender {
	d, err := newDBusSender(invoked)
	if err != nil {
		log.Debug("notifications through beeep", "err", err)
		return beeepSender{icon: icon}
	}
	return d
}

// dbusSender sends notifications with buttons and replacement, and hears
// ActionInvoked on its own connection.
type dbusSender struct {
	conn *dbus.Conn
	wg   sync.WaitGroup
}

func newDBusSender(invoked func(id uint32, key string)) (*dbusSender, error) {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return nil, fmt.Errorf("connect to the session bus: %w", err)
	}
	if err := conn.AddMatchSignal(dbus.WithMatchObjectPath(notifyPath), dbus.WithMatchInterface(notifyIface),
		dbus.WithMatchMember("ActionInvoked")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("listen for notification actions: %w", err)
	}
	signals := make(chan *dbus.Signal, 16)
	conn.Signal(signals)
	d := &dbusSender{conn: conn}
	d.wg.Add(1)
	go func() { // ends when the connection closes (the channel is closed)
		defer d.wg.Done()
		for sig := range signals {
			if sig.Name != notifyIface+".ActionInvoked" || len(sig.Body) != 2 {
				continue
			}
			id, ok1 := sig.Body[0].(uint32)
			key, ok2 := sig.Body[1].(string)
			if ok1 && ok2 {
				invoked(id, key)
			}
		}
	}()
	return d, nil
}

func (d *dbusSender) send(n Note, replaces uint32) (uint32, error) {
	var actions []string
	for _, b := range n.Buttons {
		actions = append(actions, b.Key, Printable(b.Label))
	}
	icon, urgency := "dialog-information", byte(1)
	switch n.Kind {
	case NoteWarning:
		icon = "dialog-warning"
	case NoteError:
		icon, urgency = "dialog-error", 2
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(urgency)}
	timeout := int32(-1) // the server's default
	if n.Sticky {
		timeout = 0 // until dismissed
	}
	var id uint32
	err := d.conn.Object(notifyName, notifyPath).Call(notifyIface+".Notify", 0,
		"rolecall", replaces, icon, n.Title, n.Body, actions, hints, timeout).Store(&id)
	if err != nil {
		return 0, fmt.Errorf("desktop notification: %w", err)
	}
	return id, nil
}

func (d *dbusSender) take(id uint32) error {
	if err := d.conn.Object(notifyName, notifyPath).Call(notifyIface+".CloseNotification", 0, id).Err; err != nil {
		return fmt.Errorf("close desktop notification: %w", err)
	}
	return nil
}

func (d *dbusSender) close() {
	d.conn.Close()
	d.wg.Wait()
}
