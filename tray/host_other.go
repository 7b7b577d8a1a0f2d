//go:build !linux

package tray

import "time"

// available: macOS and Windows always have a menu bar or notification area.
func available(time.Duration) error { return nil }
