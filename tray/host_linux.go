package tray

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/godbus/dbus/v5"
)

// available checks for a session bus and a StatusNotifierWatcher on it (the
// tray host of KDE, GNOME's AppIndicator extension, Xfce, waybar...).
// Without a bus fyne.io/systray cannot work (and panics on Quit).
func available(wait time.Duration) error {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("cannot reach the D-Bus session bus: %w", err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		var has bool
		err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
		if err == nil && has {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("no system tray host (StatusNotifierWatcher) on the session bus")
		}
	}
}
