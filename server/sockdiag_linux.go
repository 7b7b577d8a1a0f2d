package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// The sock_diag wire format (linux/inet_diag.h, linux/netlink.h); x/sys/unix
// has the constants but not these structs.
const (
	sizeofNlMsghdr      = 16
	sizeofInetDiagReqV2 = 56 // family, protocol, ext, pad, states, inet_diag_sockid
	sizeofInetDiagMsg   = 72 // family, state, timer, retrans, sockid, expires, rqueue, wqueue, uid, inode
	diagMsgUID          = 64 // offsets in inet_diag_msg
	diagMsgInode        = 68
	inetDiagNoCookie    = 0xffffffff
)

// errNetlinkRefused wraps the error of a system that does not let rolecall
// use NETLINK_SOCK_DIAG (a seccomp filter, a kernel without inet_diag).
// The peer check then cannot tell who connects and refuses: such a system
// needs same_user_only = false (the bearer token alone guards).
var errNetlinkRefused = errors.New("netlink sock_diag refused (a system that never allows it needs same_user_only = false in config.toml)")

// netlinkSocket opens the NETLINK_SOCK_DIAG socket of one lookup; tests
// replace it to inject a failure (EMFILE).
var netlinkSocket = func() (int, error) {
	return unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
}

// errNoSocket is an exact lookup that found nothing.
var errNoSocket = errors.New("no such socket")

// sockDiag asks the kernel for the TCP socket whose own address is src and
// whose peer is dst, by its exact 4-tuple: one hash lookup in the kernel,
// whatever the number of sockets on the machine. It returns the socket's
// owner uid and inode.
func sockDiag(src, dst *net.TCPAddr) (uid int, inode uint64, err error) {
	if src.IP.To4() != nil && dst.IP.To4() != nil {
		uid, inode, err = sockDiagFamily(unix.AF_INET, src, dst)
		if !errors.Is(err, errNoSocket) {
			return uid, inode, err
		}
		// A client socket of family AF_INET6 talking IPv4 through a
		// mapped address is found under AF_INET6.
	}
	return sockDiagFamily(unix.AF_INET6, src, dst)
}

func sockDiagFamily(family uint8, src, dst *net.TCPAddr) (int, uint64, error) {
	fd, err := netlinkSocket()
	switch {
	case errors.Is(err, unix.EAFNOSUPPORT), errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return -1, 0, fmt.Errorf("%w: %w", errNetlinkRefused, err)
	case err != nil: // EMFILE, ENFILE, ENOBUFS: this lookup only
		return -1, 0, fmt.Errorf("netlink sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	// The kernel answers before sendto returns; the timeout only guards
	// against a kernel that never does.
	tv := unix.Timeval{Sec: 1}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	req := diagRequest(family, src, dst)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return -1, 0, fmt.Errorf("netlink sock_diag send: %w", err)
	}
	var buf [1024]byte
	n, _, err := unix.Recvfrom(fd, buf[:], 0)
	if err != nil {
		return -1, 0, fmt.Errorf("netlink sock_diag receive: %w", err)
	}
	return parseDiagReply(buf[:n], req[sizeofNlMsghdr+8:sizeofNlMsghdr+12])
}

// diagRequest is one nlmsghdr and inet_diag_req_v2 for an exact lookup
// (no NLM_F_DUMP).
func diagRequest(family uint8, src, dst *net.TCPAddr) []byte {
	ne := binary.NativeEndian
	b := make([]byte, sizeofNlMsghdr+sizeofInetDiagReqV2)
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], 1) // sequence
	r := b[sizeofNlMsghdr:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	id := r[8:]                     // inet_diag_sockid: ports and addresses in network order
	binary.BigEndian.PutUint16(id[0:], uint16(src.Port))
	binary.BigEndian.PutUint16(id[2:], uint16(dst.Port))
	putDiagAddr(id[4:20], family, src.IP)
	putDiagAddr(id[20:36], family, dst.IP)
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	return b
}

func putDiagAddr(b []byte, family uint8, ip net.IP) {
	if family == unix.AF_INET {
		copy(b, ip.To4())
		return
	}
	copy(b, ip.To16())
}

// parseDiagReply reads the kernel's answer: an inet_diag_msg for the
// socket, or an NLMSG_ERROR (ENOENT: no such socket). wantPorts is the
// ports asked for; an answer for another socket is an error.
func parseDiagReply(b, wantPorts []byte) (int, uint64, error) {
	ne := binary.NativeEndian
	for len(b) >= sizeofNlMsghdr {
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < sizeofNlMsghdr || l > len(b) {
			return -1, 0, errors.New("netlink: truncated message")
		}
		body := b[sizeofNlMsghdr:l]
		switch typ {
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return -1, 0, errors.New("netlink: short error message")
			}
			errno := unix.Errno(-int32(ne.Uint32(body)))
			switch errno {
			case 0:
			case unix.ENOENT:
				return -1, 0, errNoSocket
			case unix.EOPNOTSUPP, unix.EINVAL, unix.EPERM, unix.EACCES, unix.EPROTONOSUPPORT:
				return -1, 0, fmt.Errorf("%w: %v", errNetlinkRefused, errno)
			default:
				return -1, 0, fmt.Errorf("netlink sock_diag: %w", errno)
			}
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(body) < sizeofInetDiagMsg {
				return -1, 0, errors.New("netlink: short inet_diag_msg")
			}
			if string(body[4:8]) != string(wantPorts) {
				return -1, 0, errors.New("netlink: answer for another socket")
			}
			return int(ne.Uint32(body[diagMsgUID:])), uint64(ne.Uint32(body[diagMsgInode:])), nil
		}
		if l = (l + 3) &^ 3; l >= len(b) {
			break
		}
		b = b[l:]
	}
	return -1, 0, errNoSocket
}
