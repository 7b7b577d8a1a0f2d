//go:build !linux

package control

import "net"

// peerUID cannot tell the peer's user here; the socket's permissions are
// the guard.
func peerUID(net.Conn) (int, bool) { return 0, false }

// peerProcess cannot tell the peer's process here.
func peerProcess(net.Conn) (int, string) { return 0, "" }
