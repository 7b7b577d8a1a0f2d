package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// connInfo is what is known of one client connection. The accept loop only
// records the addresses; the peer check runs once, in the connection's own
// goroutine, on its first request.
type connInfo struct {
	local, remote net.Addr
	// container: it came through the host set-up's DNAT (grant.go);
	// client names it for a grant's list ("container 10.0.0.2").
	container bool
	client    string

	peerOnce sync.Once
	refused  string // non-empty: every request on it gets 403 with this
	uid      int    // -1: unknown
	inode    uint64

	// owner is the client process, set by the audit's resolver; probed
	// is closed once the newest processes were searched (nil: no search).
	owner  atomic.Pointer[procOwner]
	probed chan struct{}

	// handout is the audit record of the last credentials handed out on
	// this connection.
	handout atomic.Pointer[handout]
}

// procOwner is the process holding a client socket; zero when unknown.
type procOwner struct {
	pid int
	exe string
}

// errNoPeerSocket: the peer lookup found no socket of this host holding
// the connection's other end.
var errNoPeerSocket = errors.New("no socket of this host holds the other end")

type connKey struct{}

func connFrom(ctx context.Context) *connInfo {
	ci, _ := ctx.Value(connKey{}).(*connInfo)
	return ci
}

// connContext runs once per accepted connection, in the accept loop: it
// must stay cheap, so it only keeps the addresses.
func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{local: c.LocalAddr(), remote: c.RemoteAddr(), uid: -1}
	if fromContainer(ci.local, ci.remote) {
		ci.container = true
		ci.client = "container " + ci.remote.(*net.TCPAddr).IP.String()
	}
	return context.WithValue(ctx, connKey{}, ci)
}

// checkPeer returns why the connection is refused, or "". The lookup runs
// on the connection's first request only; later requests read the answer.
func (s *Server) checkPeer(ci *connInfo) string {
	ci.peerOnce.Do(func() { s.lookupPeer(ci) })
	return ci.refused
}

func (s *Server) lookupPeer(ci *connInfo) {
	local, lok := ci.local.(*net.TCPAddr)
	remote, rok := ci.remote.(*net.TCPAddr)
	if !s.opts.SameUserOnly || !lok || !rok {
		return
	}
	// Looked up for a container's connection too: any local process can
	// reach the loopback listener from a non-loopback source address of
	// this host, and only the socket table tells it from a container.
	uid, inode, err := peerSocket(local, remote)
	switch {
	case err == errPeerUnsupported:
	case errors.Is(err, errNoPeerSocket) && (ci.container || !remote.IP.IsLoopback()):
		// No socket of this host holds the other end: a container's
		// (its own network namespace; its connection is confined to a
		// grant's route, grant.go) or a remote peer of a TLS bind (the
		// token and TLS protect it). Any other failure refuses.
	case err != nil:
		ci.refused = "cannot tell which user opened this connection, so it is refused: " + err.Error()
		s.refusals.note(s.opts.Now(), s.log, "peer lookup failed", "remote", ci.remote.String(), "err", err)
	case uid != os.Getuid():
		ci.refused = fmt.Sprintf("connection from a process of another user (uid %d) refused: rolecall serves only its own user", uid)
		s.refusals.note(s.opts.Now(), s.log, "connection from another user refused", "remote", ci.remote.String(), "uid", uid)
	default:
		ci.uid, ci.inode = uid, inode
		s.opts.Audit.resolveOwner(ci)
	}
}

// RefusedConnections is how many connections the peer check has refused
// since the listener started.
func (s *Server) RefusedConnections() int64 { return s.refusals.count.Load() }

// refusalLog counts refused connections and logs at most one line per
// refusalLogEvery: a local user opening thousands of connections must not
// turn the log into the attack.
type refusalLog struct {
	count  atomic.Int64
	logged atomic.Int64 // count when the last line was written
	last   atomic.Int64 // unix nanoseconds of the last line
}

const refusalLogEvery = time.Minute

func (l *refusalLog) note(now time.Time, log *slog.Logger, msg string, args ...any) {
	n := l.count.Add(1)
	last := l.last.Load()
	if last != 0 && now.UnixNano()-last < int64(refusalLogEvery) {
		return
	}
	if !l.last.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	since := n - l.logged.Swap(n)
	log.Warn(msg, append(args, "refused_since_last_line", since, "refused_total", n)...)
}

// process returns the pid and executable of the client; zero and empty
// when unknown (not resolved, or the process was gone before it was).
func (ci *connInfo) process() (int, string) {
	if o := ci.owner.Load(); o != nil {
		return o.pid, o.exe
	}
	return 0, ""
}

// SameUser checks that the loopback TCP connection from remote to local was
// opened by a process of this user. It is the listener's peer lookup for
// other loopback servers of rolecall (the role picker page); where the
// system cannot tell, it does not refuse.
func SameUser(local, remote net.Addr) error {
	l, lok := local.(*net.TCPAddr)
	r, rok := remote.(*net.TCPAddr)
	if !lok || !rok {
		return nil
	}
	uid, _, err := peerSocket(l, r)
	switch {
	case err == errPeerUnsupported:
		return nil
	case err != nil:
		return fmt.Errorf("cannot tell which user opened this connection: %w", err)
	case uid != os.Getuid():
		return fmt.Errorf("connection from a process of another user (uid %d) refused", uid)
	}
	return nil
}
