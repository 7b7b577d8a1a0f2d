package tray

import (
	"errors"
	"fmt"
	"html"
	"os"
	"path/filepath"
)

// launchAgent is the per-user LaunchAgent that starts rolecall at login.
func launchAgent() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "Library", "LaunchAgents", "dev.rolecall.plist"), nil
}

func autostartEnabled() (bool, error) {
	path, err := launchAgent()
	if err != nil {
		return false, err
	}
	_, err = os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func setAutostart(on bool, exe string) error {
	path, err := launchAgent()
	if err != nil {
		return err
	}
	if !on {
		return removeEntry(path)
	}
	plist := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key><string>dev.rolecall</string>
	<key>ProgramArguments</key><array><string>` + html.EscapeString(exe) + `</string></array>
	<key>RunAtLoad</key><true/>
	<key>ProcessType</key><string>Interactive</string>
</dict>
</plist>
`
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	return os.WriteFile(path, []byte(plist), 0o644)
}
