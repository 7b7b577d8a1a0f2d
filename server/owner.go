package server

import (
	"net"
	"os"
	"sync"
	"time"
)

// owners finds the process behind each new client connection in the
// background, from the connection's first request on: a short-lived client
// (curl, the AWS CLI) must be found before it exits, and it cannot exit
// before it has its answer, so a connection's first hand-out waits for the
// search, at most ownerWait.
//
// One worker searches for every connection queued meanwhile in one walk of
// the processes, newest first (where a client that just started is), until
// all are found: on a busy machine, where hundreds of processes may have
// started since the client, a burst of connections costs one walk, not one
// each.
type owners struct {
	queue chan *connInfo
	stop  chan struct{}
	wg    sync.WaitGroup
	// resolved, when set (tests), gets every connection once resolved.
	resolved chan *connInfo

	mu    sync.Mutex
	cache map[uint64]procOwner // what was found per inode, bounded

	find func(inodes map[uint64]procOwner)
}

const (
	ownerQueue = 256                    // connections waiting; more are left unattributed
	ownerCache = 4096                   // inodes remembered
	ownerWait  = 250 * time.Millisecond // longest a first hand-out waits for the search
)

// newOwners starts the worker; find fills in the owners of the inodes
// given (socketOwners).
func newOwners(find func(inodes map[uint64]procOwner)) *owners {
	o := &owners{
		queue: make(chan *connInfo, ownerQueue),
		stop:  make(chan struct{}),
		cache: map[uint64]procOwner{},
		find:  find,
	}
	o.wg.Add(1)
	go o.probe()
	return o
}

// resolve queues ci; it never blocks: when the worker is behind, the
// connection stays unattributed.
func (o *owners) resolve(ci *connInfo) {
	ci.probed = make(chan struct{})
	select {
	case o.queue <- ci:
	default:
		o.finish(ci, procOwner{})
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

// probe takes every connection queued, looks up their client sockets
// (it starts before the peer check's answer is read) and searches for all
// of them in one walk. A socket of another user is not searched for (that
// connection is refused).
func (o *owners) probe() {
	defer o.wg.Done()
	for {
		var batch []*connInfo
		select {
		case ci := <-o.queue:
			batch = append(batch, ci)
		case <-o.stop:
			return
		}
		for more := true; more; {
			select {
			case ci := <-o.queue:
				batch = append(batch, ci)
			default:
				more = false
			}
		}
		o.search(batch)
	}
}

// search finds the client processes of batch.
func (o *owners) search(batch []*connInfo) {
	inodes := make(map[uint64]procOwner, len(batch))
	wanted := make([]uint64, len(batch))
	for i, ci := range batch {
		uid, inode, err := clientSocket(ci)
		if err != nil || uid != os.Getuid() {
			continue
		}
		o.mu.Lock()
		p, ok := o.cache[inode]
		o.mu.Unlock()
		if ok {
			o.finish(ci, p)
			batch[i] = nil
			continue
		}
		inodes[inode] = procOwner{}
		wanted[i] = inode
	}
	if len(inodes) > 0 {
		o.find(inodes)
	}
	for i, ci := range batch {
		if ci == nil {
			continue
		}
		p := inodes[wanted[i]]
		if p.pid != 0 {
			o.remember(wanted[i], p)
		}
		o.finish(ci, p)
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

// close stops the worker; queued connections stay unattributed.
func (o *owners) close() {
	close(o.stop)
	o.wg.Wait()
	for {
		select {
		case ci := <-o.queue:
			o.finish(ci, procOwner{})
		default:
			return
		}
	}
}

// resolving reports whether ci's client process is still being looked for.
func (ci *connInfo) resolving() bool {
	return ci.probed != nil && ci.owner.Load() == nil
}

// awaitProbe waits, at most ownerWait, until the processes have been
// searched for ci's client.
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
