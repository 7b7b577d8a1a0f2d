//go:build !linux && !darwin && !windows

package tray

func autostartEnabled() (bool, error)        { return false, ErrAutostartUnsupported }
func setAutostart(on bool, exe string) error { return ErrAutostartUnsupported }
