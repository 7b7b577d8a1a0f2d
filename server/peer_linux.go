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

// maxOwnerProcs bounds one walk for a socket's owner.
const maxOwnerProcs = 4096

// socketOwner finds the process of our own user holding socket inode by
// walking /proc/*/fd, newest processes first: a short-lived client (curl,
// the AWS CLI) is among the last started, and is found before it exits.
// Only processes of our own user are examined: the peer check let in no
// other.
func socketOwner(inode uint64) (int, string) {
	target := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	d, err := os.Open("/proc")
	if err != nil {
		return 0, ""
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	slices.SortFunc(pids, func(a, b int) int { return b - a })
	uid := uint32(os.Getuid())
	for i, pid := range pids {
		if i >= maxOwnerProcs {
			break
		}
		dir := "/proc/" + strconv.Itoa(pid)
		var st unix.Stat_t
		if unix.Stat(dir, &st) != nil || st.Uid != uid {
			continue
		}
		if holdsSocket(dir+"/fd", target) {
			exe, _ := os.Readlink(dir + "/exe")
			return pid, exe
		}
	}
	return 0, ""
}

func holdsSocket(dir, target string) bool {
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	fds, _ := d.Readdirnames(-1)
	d.Close()
	for _, fd := range fds {
		if l, err := os.Readlink(dir + "/" + fd); err == nil && l == target {
			return true
		}
	}
	return false
}
