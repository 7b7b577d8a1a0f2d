//go:build !linux

package server

import (
	"errors"
	"net"
)

var errPeerUnsupported = errors.New("peer lookup not supported on this system")

// peerSocket is Linux only; elsewhere the bearer token is the guard.
func peerSocket(local, remote *net.TCPAddr) (int, uint64, error) {
	return -1, 0, errPeerUnsupported
}

// socketOwners is Linux only; elsewhere the audit names no process.
func socketOwners(map[uint64]procOwner) {}
