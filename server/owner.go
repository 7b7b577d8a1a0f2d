package server

import (
	"net"
	"os"
	"time"
)

// owners finds the process behind each new client connection in a
// background worker, from the moment the connection is accepted: a
// short-lived client (curl, the AWS CLI) must be found before it exits.
//
// The search has two phases: the newest processes first (where a client
// that just started is; well under a millisecond), then, if that found
// nothing, a walk of every process (milliseconds). A connection's first
// hand-out waits for the first phase only, at most ownerWait, so that the
// client cannot have exited before it was looked for; nothing waits for
// the walk.
type owners struct {
	queue chan *connInfo
	stop  chan struct{}
	done  chan struct{}
	// resolved, when set (tests), gets every connection once resolved.
	resolved chan *connInfo

	// Owned by the worker: what was found per inode, bounded.
	cache map[uint64]procOwner
	find  func(inode uint64, newest bool) (int, string)
}

const (
	ownerQueue = 256                  // connections waiting; more are left unattributed
	ownerCache = 4096                 // inodes remembered
	ownerWait  = 5 * time.Millisecond // longest a first hand-out waits for the first phase
)

func newOwners(find func(inode uint64, newest bool) (int, string)) *owners {
	o := &owners{
		queue: make(chan *connInfo, ownerQueue),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
		cache: map[uint64]procOwner{},
		find:  find,
	}
	go o.run()
	return o
}

// resolve queues ci; it never blocks: when the worker is behind, the
// connection stays unattributed.
func (o *owners) resolve(ci *connInfo) {
	ci.probed = make(chan struct{})
	select {
	case o.queue <- ci:
	default:
		close(ci.probed)
	}
}

func (o *owners) run() {
	defer close(o.done)
	for {
		select {
		case ci := <-o.queue:
			o.resolveOne(ci)
		case <-o.stop:
			return
		}
	}
}

// clientSocket is the uid and inode of a connection's client socket.
func clientSocket(ci *connInfo) (int, uint64, error) {
	local, lok := ci.local.(*net.TCPAddr)
	remote, rok := ci.remote.(*net.TCPAddr)
	if !lok || !rok {
		return -1, 0, errPeerUnsupported
	}
	return peerSocket(local, remote)
}

func (o *owners) resolveOne(ci *connInfo) {
	// The worker looks the socket up itself: it starts before the
	// connection's first request, where the peer check runs. A socket of
	// another user is not searched for (that connection is refused).
	uid, inode, err := clientSocket(ci)
	if err != nil || uid != os.Getuid() {
		o.finish(ci, procOwner{})
		return
	}
	if p, ok := o.cache[inode]; ok {
		o.finish(ci, p)
		return
	}
	var p procOwner
	p.pid, p.exe = o.find(inode, true)
	if p.pid == 0 {
		close(ci.probed)
		p.pid, p.exe = o.find(inode, false)
	}
	if p.pid != 0 {
		if len(o.cache) >= ownerCache {
			clear(o.cache)
		}
		o.cache[inode] = p
	}
	o.finish(ci, p)
}

func (o *owners) finish(ci *connInfo, p procOwner) {
	ci.owner.Store(&p)
	select {
	case <-ci.probed:
	default:
		close(ci.probed)
	}
	if o.resolved != nil {
		o.resolved <- ci
	}
}

// close stops the worker; queued connections stay unattributed.
func (o *owners) close() {
	close(o.stop)
	<-o.done
	for {
		select {
		case ci := <-o.queue:
			close(ci.probed)
		default:
			return
		}
	}
}

// awaitProbe waits, at most ownerWait, until the newest processes have
// been searched for ci's client.
func (ci *connInfo) awaitProbe() {
	if ci.probed == nil {
		return
	}
	select {
	case <-ci.probed:
		return
	default:
	}
	t := time.NewTimer(ownerWait)
	defer t.Stop()
	select {
	case <-ci.probed:
	case <-t.C:
	}
}
