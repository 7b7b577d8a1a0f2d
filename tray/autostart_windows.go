package tray

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows/registry"
)

const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

func autostartEnabled() (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if err != nil {
		return false, fmt.Errorf("autostart: %w", err)
	}
	defer k.Close()
	_, _, err = k.GetStringValue("rolecall")
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func setAutostart(on bool, exe string) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	defer k.Close()
	if !on {
		if err := k.DeleteValue("rolecall"); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return fmt.Errorf("autostart: %w", err)
		}
		return nil
	}
	return k.SetStringValue("rolecall", `"`+trayExe(exe)+`"`)
}

// trayExe is what starts at login: rolecall.exe, the tray build (no
// console window), also when asked from rolecall-cli.exe beside it, whose
// console would open at every login.
func trayExe(exe string) string {
	dir, base := filepath.Split(exe)
	if !strings.EqualFold(base, "rolecall-cli.exe") {
		return exe
	}
	tray := filepath.Join(dir, "rolecall.exe")
	if st, err := os.Stat(tray); err == nil && st.Mode().IsRegular() {
		return tray
	}
	return exe
}
