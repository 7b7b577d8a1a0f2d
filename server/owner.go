package server

import (
	"net"
	"os"
	"sync"
	"time"
)

// owners finds the process behind each new client connection in the
// background, from the moment the connection is accepted: a short-lived
// client (curl, the AWS CLI) must be found before it exits.
//
// The search has two phases, each with its own worker: the newest
// processes first (where a client that just started is; well under a
// millisecond), then, if that found nothing, a walk of every process
// (milliseconds), so that a walk never delays the first phase of the next
// connection. A connection's first hand-out waits for the first phase
// only, at most ownerWait, so that the client cannot have exited before it
// was looked for; nothing waits for the walk.
type owners struct {
	queue chan *connInfo // first phase
	walks chan walk      // second phase
	stop  chan struct{}
	wg    sync.WaitGroup
	// resolved, when set (tests), gets every connection once resolved.
	resolved chan *connInfo

	mu    sync.Mutex
	cache map[uint64]procOwner // what was found per inode, bounded

	find func(inode uint64, newest bool) (int, string)
}

type walk struct {
	ci    *connInfo
	inode uint64
}

const (
	ownerQueue = 256                  // connections waiting; more are left unattributed
	ownerCache = 4096                 // inodes remembered
	ownerWait  = 5 * time.Millisecond // longest a first hand-out waits for the first phase
)

func newOwners(find func(inode uint64, newest bool) (int, string)) *owners {
	o := &owners{
		queue: make(chan *connInfo, ownerQueue),
		walks: make(chan walk, ownerQueue),
		stop:  make(chan struct{}),
		cache: map[uint64]procOwner{},
		find:  find,
	}
	o.wg.Add(2)
	go o.probe()
	go o.walk()
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

// clientSocket is the uid and inode of a connection's client socket.
func clientSocket(ci *connInfo) (int, uint64, error) {
	local, lok := ci.local.(*net.TCPAddr)
	remote, rok := ci.remote.(*net.TCPAddr)
	if !lok || !rok {
		return -1, 0, errPeerUnsupported
	}
	return peerSocket(local, remote)
}

// probe is the first phase. It looks the socket up itself: it starts
// before the connection's first request, where the peer check runs. A
// socket of another user is not searched for (that connection is refused).
func (o *owners) probe() {
	defer o.wg.Done()
	for {
		var ci *connInfo
		select {
		case ci = <-o.queue:
		case <-o.stop:
			return
		}
		uid, inode, err := clientSocket(ci)
		if err != nil || uid != os.Getuid() {
			o.finish(ci, procOwner{})
			continue
		}
		o.mu.Lock()
		p, ok := o.cache[inode]
		o.mu.Unlock()
		if !ok {
			p.pid, p.exe = o.find(inode, true)
		}
		if p.pid != 0 {
			o.remember(inode, p)
			o.finish(ci, p)
			continue
		}
		close(ci.probed)
		select {
		case o.walks <- walk{ci, inode}:
		default:
			o.finish(ci, procOwner{})
		}
	}
}

// walk is the second phase.
func (o *owners) walk() {
	defer o.wg.Done()
	for {
		select {
		case w := <-o.walks:
			var p procOwner
			p.pid, p.exe = o.find(w.inode, false)
			if p.pid != 0 {
				o.remember(w.inode, p)
			}
			o.finish(w.ci, p)
		case <-o.stop:
			return
		}
	}
}

func (o *owners) remember(inode uint64, p procOwner) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.cache) >= ownerCache {
		clear(o.cache)
	}
	o.cache[inode] = p
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

// close stops the workers; queued connections stay unattributed.
func (o *owners) close() {
	close(o.stop)
	o.wg.Wait()
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
