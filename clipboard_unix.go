//go:build linux || freebsd || netbsd || openbsd || dragonfly || solaris

package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
)

// clipboardTools are the programs that write the desktop's clipboard, in
// the order they are tried: wl-copy first in a Wayland session.
func clipboardTools(getenv func(string) string) [][]string {
	tools := [][]string{{"xclip", "-in", "-selection", "clipboard"}, {"xsel", "--input", "--clipboard"}}
	if getenv("WAYLAND_DISPLAY") != "" {
		tools = append([][]string{{"wl-copy"}}, tools...)
	}
	return tools
}

// clipboardCommand is the first of clipboardTools that is installed, looked
// up when asked: one installed while rolecall runs is found at the next
// copy, and a command that copies nothing pays for no lookup at start.
func clipboardCommand(getenv func(string) string, lookPath func(string) (string, error)) ([]string, error) {
	for _, tool := range clipboardTools(getenv) {
		if path, err := lookPath(tool[0]); err == nil {
			return append([]string{path}, tool[1:]...), nil
		}
	}
	return nil, errNoClipboardTool
}

// writeClipboard puts text on the desktop's clipboard.
func writeClipboard(text string) error {
	argv, err := clipboardCommand(os.Getenv, exec.LookPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		return errors.New(strings.TrimSpace(err.Error() + " " + string(out)))
	}
	return nil
}

// clipboardMissing: no program to copy with (the tray says what to install).
func clipboardMissing() bool {
	_, err := clipboardCommand(os.Getenv, exec.LookPath)
	return err != nil
}
