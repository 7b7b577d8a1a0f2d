package tray

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// autostartFile is the XDG autostart entry.
func autostartFile() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "autostart", "rolecall.desktop"), nil
}

func autostartEnabled() (bool, error) {
	path, err := autostartFile()
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s := string(b)
	return !strings.Contains(s, "\nHidden=true") && !strings.Contains(s, "\nX-GNOME-Autostart-enabled=false"), nil
}

func setAutostart(on bool, exe string) error {
	path, err := autostartFile()
	if err != nil {
		return err
	}
	if !on {
		return removeEntry(path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	entry := "[Desktop Entry]\nType=Application\nName=rolecall\n" +
		"Comment=AWS credentials for the role picked in the tray\n" +
		"Exec=" + desktopQuote(exe) + "\nIcon=rolecall\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
	if err := os.WriteFile(path, []byte(entry), 0o644); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

// desktopQuote quotes a path for an Exec key of the Desktop Entry spec.
func desktopQuote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\$`") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\\\`, `"`, `\\"`, "`", "\\\\`", "$", `\\$`)
	return `"` + r.Replace(s) + `"`
}
