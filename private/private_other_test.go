//go:build !windows

package private

func underWine() bool { return false }
