package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

var errPeerUnsupported = errors.New("peer lookup not supported on this system")

// peerSocket finds the client's end of a loopback TCP connection in
// /proc/net/tcp{,6} by its 4-tuple and returns the owning uid and the
// socket's inode. The client's socket has local address = our remote.
func peerSocket(local, remote *net.TCPAddr) (uid int, inode uint64, err error) {
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

// socketOwner finds the process holding socket inode by walking
// /proc/*/fd. Only processes we may inspect are seen: our own user's.
func socketOwner(inode uint64) (int, string) {
	target := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == target {
				exe, _ := os.Readlink(filepath.Join("/proc", p.Name(), "exe"))
				return pid, exe
			}
		}
	}
	return 0, ""
}
