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
		return -1, 0, fmt.Errorf("%w: %s -> %s", errNoPeerSocket, remote, local)
	}
	return uid, inode, err
}

// maxOwnerProcs bounds the processes one search looks at.
const maxOwnerProcs = 4096

// socketOwners fills in the process of our own user holding each socket
// inode of inodes, in one walk of /proc, newest process first (a client
// that just started is among the last), until every one is found. Only
// processes of our own user are examined: the peer check lets in no other.
func socketOwners(inodes map[uint64]procOwner) {
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	self := os.Getpid()
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid != self {
			pids = append(pids, pid)
		}
	}
	slices.SortFunc(pids, func(a, b int) int { return b - a })
	uid := uint32(os.Getuid())
	left := len(inodes)
	for i, pid := range pids {
		if i >= maxOwnerProcs || left == 0 {
			return
		}
		for _, inode := range socketsOf(pid, uid) {
			if p, ok := inodes[inode]; ok && p.pid == 0 {
				p.pid, p.exe = processOf(pid)
				inodes[inode] = p
				left--
			}
		}
	}
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

// socketsOf is the inodes of the sockets process pid, of user uid, has
// open. It runs while a client may be exiting, so it keeps to raw system
// calls relative to the fd directory.
func socketsOf(pid int, uid uint32) []uint64 {
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if unix.Fstat(dir, &st) != nil || st.Uid != uid {
		return nil
	}
	var buf [4096]byte
	var link [64]byte
	var out []uint64
	names := make([]string, 0, 64)
	for {
		n, err := unix.Getdents(dir, buf[:])
		if err != nil || n <= 0 {
			return out
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names[:0])
		for _, name := range names {
			l, err := unix.Readlinkat(dir, name, link[:])
			if err != nil {
				continue
			}
			if v, ok := strings.CutPrefix(string(link[:l]), "socket:["); ok && strings.HasSuffix(v, "]") {
				if inode, err := strconv.ParseUint(v[:len(v)-1], 10, 64); err == nil {
					out = append(out, inode)
				}
			}
		}
	}
}
