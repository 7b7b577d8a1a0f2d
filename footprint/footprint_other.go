//go:build !linux

package footprint

// releaseBinary: only Linux is handled; elsewhere nothing is released.
func releaseBinary() (int64, error) { return 0, nil }
