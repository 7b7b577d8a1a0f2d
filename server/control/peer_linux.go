package control

import (
	"net"
	"syscall"
)

// peerUID is the user of the process at the other end of a Unix socket
// connection (SO_PEERCRED); known is false when it cannot be told.
func peerUID(c net.Conn) (uid int, known bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var (
		cred *syscall.Ucred
		gerr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, gerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || gerr != nil {
		return 0, false
	}
	return int(cred.Uid), true
}
