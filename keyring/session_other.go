//go:build !linux

package keyring

import "log/slog"

// osBackend is go-keyring: its macOS and Windows calls keep nothing open
// that a second call could reuse.
func osBackend(*slog.Logger) Backend { return osKeyring{} }
