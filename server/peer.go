package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
)

// connInfo is what is known of one client connection; it is looked up once
// per connection, not per request.
type connInfo struct {
	remote  string
	refused string // non-empty: every request on it gets 403 with this
	uid     int    // -1: unknown
	inode   uint64

	procOnce sync.Once
	pid      int
	exe      string

	// handout is the audit record of the last credentials handed out on
	// this connection.
	handout atomic.Pointer[handout]
}

type connKey struct{}

func connFrom(ctx context.Context) *connInfo {
	ci, _ := ctx.Value(connKey{}).(*connInfo)
	return ci
}

// connContext runs once per accepted connection.
func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{remote: c.RemoteAddr().String(), uid: -1}
	local, lok := c.LocalAddr().(*net.TCPAddr)
	remote, rok := c.RemoteAddr().(*net.TCPAddr)
	if s.opts.SameUserOnly && lok && rok {
		uid, inode, err := peerSocket(local, remote)
		switch {
		case err == errPeerUnsupported:
		case err != nil && !remote.IP.IsLoopback():
			// A remote peer (TLS on a non-loopback bind) has no local
			// socket to look up; the token and TLS protect it.
		case err != nil:
			ci.refused = "cannot tell which user opened this connection, so it is refused: " + err.Error()
			s.log.Warn("peer lookup failed", "remote", ci.remote, "err", err)
		case uid != os.Getuid():
			ci.refused = fmt.Sprintf("connection from a process of another user (uid %d) refused: rolecall serves only its own user", uid)
			s.log.Warn("connection from another user refused", "remote", ci.remote, "uid", uid)
		default:
			ci.uid, ci.inode = uid, inode
		}
	}
	return context.WithValue(ctx, connKey{}, ci)
}

// process returns the pid and executable of the client, found from its
// socket's inode; zero and empty when unknown. It is slow (a walk over
// /proc) and so only called off the request path, once per connection.
func (ci *connInfo) process() (int, string) {
	ci.procOnce.Do(func() {
		if ci.inode != 0 {
			ci.pid, ci.exe = socketOwner(ci.inode)
		}
	})
	return ci.pid, ci.exe
}
