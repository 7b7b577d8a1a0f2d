//go:build race

package tray

func init() { raceEnabled = true }
