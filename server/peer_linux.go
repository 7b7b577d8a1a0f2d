package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

var errPeerUnsupported = errors.New("peer lookup not supported on this system")

// peerSocket finds the client's end of a loopback TCP connection by its
// 4-tuple and returns the owning uid and the socket's inode. The client's
// socket has local address = our remote. Only netlink sock_diag is asked:
// it answers in constant time, whereas a scan of /proc/net/tcp costs what
// every socket on the machine costs, which another user can inflate to
// slow the owner's clients (SPEC §3). A failed lookup is an error for this
// connection only (the check refuses it); the next connection asks
// netlink again, so a transient failure (EMFILE) does not outlast itself.
func peerSocket(local, remote *net.TCPAddr) (uid int, inode uint64, err error) {
	uid, inode, err = sockDiag(remote, local)
	if errors.Is(err, errNoSocket) {
		return -1, 0, fmt.Errorf("no socket %s -> %s", remote, local)
	}
	return uid, inode, err
}

// Bounds of one search for a socket's owner.
const (
	newestProcs   = 64   // pids probed down from the newest one
	maxOwnerProcs = 4096 // processes walked after that
)

// socketOwner finds the process of our own user holding socket inode. A
// short-lived client (curl, the AWS CLI) is among the last processes
// started and must be found before it exits, so with newest set only the
// pids just below the newest one (/proc/loadavg) are probed; otherwise the
// whole of /proc is walked, newest first. Only processes of our own user
// are examined: the peer check lets in no other.
func socketOwner(inode uint64, newest bool) (int, string) {
	target := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	uid := uint32(os.Getuid())
	self := os.Getpid()
	if newest {
		last := newestPID()
		for pid := last; pid > 0 && pid > last-newestProcs; pid-- {
			if pid != self && holdsSocket(pid, uid, target) {
				return processOf(pid)
			}
		}
		return 0, ""
	}
	d, err := os.Open("/proc")
	if err != nil {
		return 0, ""
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid != self {
			pids = append(pids, pid)
		}
	}
	slices.SortFunc(pids, func(a, b int) int { return b - a })
	for i, pid := range pids {
		if i >= maxOwnerProcs {
			break
		}
		if holdsSocket(pid, uid, target) {
			return processOf(pid)
		}
	}
	return 0, ""
}

// newestPID is the last pid the kernel handed out (threads included), the
// last field of /proc/loadavg; 0 when unknown.
func newestPID() int {
	var buf [128]byte
	f, err := os.Open("/proc/loadavg")
	if err != nil {
		return 0
	}
	n, _ := f.Read(buf[:])
	f.Close()
	fields := strings.Fields(string(buf[:n]))
	if len(fields) < 5 {
		return 0
	}
	pid, _ := strconv.Atoi(fields[4])
	return pid
}

// processOf is the pid (the thread group of a thread id) and executable
// of pid.
func processOf(pid int) (int, string) {
	dir := "/proc/" + strconv.Itoa(pid)
	exe, _ := os.Readlink(dir + "/exe")
	if b, err := os.ReadFile(dir + "/status"); err == nil {
		if _, rest, ok := strings.Cut(string(b), "\nTgid:"); ok {
			if tgid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])); err == nil {
				pid = tgid
			}
		}
	}
	return pid, exe
}

// holdsSocket reports whether process pid, of user uid, has target open.
// It runs while a client may be exiting, so it keeps to raw system calls
// relative to the fd directory.
func holdsSocket(pid int, uid uint32, target string) bool {
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if unix.Fstat(dir, &st) != nil || st.Uid != uid {
		return false
	}
	var buf [4096]byte
	var link [64]byte
	names := make([]string, 0, 64)
	for {
		n, err := unix.Getdents(dir, buf[:])
		if err != nil || n <= 0 {
			return false
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names[:0])
		for _, name := range names {
			if l, err := unix.Readlinkat(dir, name, link[:]); err == nil && string(link[:l]) == target {
				return true
			}
		}
	}
}
