//go:build !linux

package tray

import "log/slog"

func platformSender(icon []byte, _ func(uint32, string), _ *slog.Logger) sender {
	return beeepSender{icon: icon}
}
