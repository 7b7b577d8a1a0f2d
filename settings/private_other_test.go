//go:build !windows

package settings

func underWine() bool { return false }
