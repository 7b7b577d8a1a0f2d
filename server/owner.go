package server

// owners finds the process behind each new client connection in a
// background worker, as soon as the peer check has the socket's inode: a
// short-lived client (curl, the AWS CLI) is attributed before it exits,
// and neither the request path nor the audit's writer waits on the walk.
type owners struct {
	queue chan *connInfo
	stop  chan struct{}
	done  chan struct{}
	// resolved, when set (tests), gets every connection once resolved.
	resolved chan *connInfo

	// Owned by the worker: what was found per inode, bounded.
	cache map[uint64]procOwner
	find  func(inode uint64) (int, string)
}

const (
	ownerQueue = 256  // connections waiting; more are left unattributed
	ownerCache = 4096 // inodes remembered
)

func newOwners(find func(uint64) (int, string)) *owners {
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
	select {
	case o.queue <- ci:
	default:
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

func (o *owners) resolveOne(ci *connInfo) {
	p, ok := o.cache[ci.inode]
	if !ok {
		p.pid, p.exe = o.find(ci.inode)
		if p.pid != 0 {
			if len(o.cache) >= ownerCache {
				clear(o.cache)
			}
			o.cache[ci.inode] = p
		}
	}
	ci.owner.Store(&p)
	if o.resolved != nil {
		o.resolved <- ci
	}
}

// close stops the worker; queued connections stay unattributed.
func (o *owners) close() {
	close(o.stop)
	<-o.done
}
