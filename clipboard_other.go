//go:build !(linux || freebsd || netbsd || openbsd || dragonfly || solaris)

package main

import "github.com/atotto/clipboard"

// writeClipboard puts text on the system clipboard (Windows' API, macOS's
// pbcopy).
func writeClipboard(text string) error { return clipboard.WriteAll(text) }

// clipboardMissing: never on Windows and macOS.
func clipboardMissing() bool { return clipboard.Unsupported }
