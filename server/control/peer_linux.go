package control

import (
	"net"
	"os"
	"strconv"
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

// peerProcess is the pid and executable of the process at the other end
// of a Unix socket (SO_PEERCRED), for the audit log; zero when unknown.
func peerProcess(c net.Conn) (pid int, exe string) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, ""
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, ""
	}
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if cred == nil {
		return 0, ""
	}
	exe, _ = os.Readlink("/proc/" + strconv.Itoa(int(cred.Pid)) + "/exe")
	return int(cred.Pid), exe
}
