package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
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
// socket has local address = our remote. Netlink sock_diag answers in
// constant time; /proc/net/tcp, read whole, is the fallback for systems
// that refuse netlink.
func peerSocket(local, remote *net.TCPAddr) (uid int, inode uint64, err error) {
	if !netlinkOff.Load() {
		uid, inode, err = sockDiag(remote, local)
		if err == nil {
			return uid, inode, nil
		}
		if errors.Is(err, errNoSocket) {
			return -1, 0, fmt.Errorf("no socket %s -> %s", remote, local)
		}
		if !errors.Is(err, errNetlinkRefused) {
			return -1, 0, err
		}
		netlinkOff.Store(true)
	}
	return procNetSocket(local, remote)
}

// procNetSocket is peerSocket by a scan of /proc/net/tcp{,6}: its cost
// grows with every socket on the machine.
func procNetSocket(local, remote *net.TCPAddr) (uid int, inode uint64, err error) {
	files := []string{"/proc/net/tcp", "/proc/net/tcp6"}
	if remote.IP.To4() == nil {
		files = files[1:]
	}
	for _, f := range files {
		six := strings.HasSuffix(f, "6")
		want := procAddr(remote, six) + " " + procAddr(local, six)
		uid, inode, found, err := scanProcNet(f, want)
		if err != nil {
			return -1, 0, err
		}
		if found {
			return uid, inode, nil
		}
	}
	return -1, 0, fmt.Errorf("no socket %s -> %s in /proc/net", remote, local)
}

// procAddr writes an address as /proc/net/tcp does: the IP as 32-bit words
// in host byte order, in hex, then ":" and the port.
func procAddr(a *net.TCPAddr, six bool) string {
	var b strings.Builder
	ip := a.IP.To4()
	if six {
		ip = a.IP.To16()
	}
	for i := 0; i+4 <= len(ip); i += 4 {
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(ip[i:i+4]))
	}
	fmt.Fprintf(&b, ":%04X", a.Port)
	return b.String()
}

func scanProcNet(path, want string) (uid int, inode uint64, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return -1, 0, false, nil
		}
		return -1, 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	wantB := []byte(want)
	for sc.Scan() {
		// "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
		line := sc.Bytes()
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		rest := bytes.TrimLeft(line[i+1:], " ")
		if !bytes.HasPrefix(rest, wantB) {
			continue
		}
		fields := strings.Fields(string(rest))
		if len(fields) < 9 {
			return -1, 0, false, fmt.Errorf("%s: short line", path)
		}
		u, err1 := strconv.Atoi(fields[6])
		n, err2 := strconv.ParseUint(fields[8], 10, 64)
		if err1 != nil || err2 != nil {
			return -1, 0, false, fmt.Errorf("%s: bad uid or inode", path)
		}
		return u, n, true, nil
	}
	return -1, 0, false, sc.Err()
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
