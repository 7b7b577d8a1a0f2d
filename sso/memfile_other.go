//go:build !linux

package sso

// memFile is Linux only (memfd); elsewhere the SDK reads the whole file.
func memFile(string) (string, func(), bool) { return "", nil, false }
