package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The listener's two connection timeouts: a new connection must have sent
// its first request's header (and finished a TLS handshake) within
// headerTimeout, and a connection idle between requests is closed after
// idleTimeout.
const (
	headerTimeout = 5 * time.Second
	idleTimeout   = 2 * time.Minute
	sweepEvery    = time.Second
)

// conns keeps the listener's connections to enforce those timeouts with
// one sweep per sweepEvery while any is open, instead of net/http arming
// two deadlines (two timer changes and clock reads) on every request of
// every connection. A connection's state changes stamp it with the sweep
// count, one atomic store. With no connection open nothing wakes.
type conns struct {
	every             time.Duration
	headerTicks, idle int64 // timeouts in sweeps

	mu    sync.Mutex
	open  map[*trackedConn]struct{}
	ticks atomic.Int64
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
}

func newConns(every, header, idle time.Duration) *conns {
	return &conns{
		every: every, headerTicks: int64(header / every), idle: int64(idle / every),
		open: map[*trackedConn]struct{}{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// trackedConn is an accepted connection with its state as of the last
// change: the http.ConnState in the top 8 bits, the sweep count below.
type trackedConn struct {
	net.Conn
	state atomic.Int64
}

const stateShift = 56

// CloseWrite lets net/http half-close the connection as it would a TCP one.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// add starts following c (from the accept loop).
func (cs *conns) add(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c}
	tc.state.Store(int64(http.StateNew)<<stateShift | cs.ticks.Load())
	cs.mu.Lock()
	cs.open[tc] = struct{}{}
	first := len(cs.open) == 1
	cs.mu.Unlock()
	if first {
		select {
		case cs.wake <- struct{}{}:
		default:
		}
	}
	return tc
}

// changed is the http.Server's ConnState hook.
func (cs *conns) changed(c net.Conn, st http.ConnState) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		cs.mu.Lock()
		delete(cs.open, tc)
		cs.mu.Unlock()
	default:
		tc.state.Store(int64(st)<<stateShift | cs.ticks.Load())
	}
}

// run sweeps until close: every cs.every while connections are open.
func (cs *conns) run() {
	defer close(cs.done)
	t := time.NewTicker(cs.every)
	defer t.Stop()
	for {
		cs.mu.Lock()
		n := len(cs.open)
		cs.mu.Unlock()
		if n == 0 {
			select {
			case <-cs.wake:
				t.Reset(cs.every)
			case <-cs.stop:
				return
			}
		}
		select {
		case <-t.C:
			cs.sweep(cs.ticks.Add(1))
		case <-cs.stop:
			return
		}
	}
}

// sweep closes the connections past their timeout at sweep now.
func (cs *conns) sweep(now int64) {
	var late []*trackedConn
	cs.mu.Lock()
	for tc := range cs.open {
		v := tc.state.Load()
		st, at := http.ConnState(v>>stateShift), v&(1<<stateShift-1)
		if st == http.StateNew && now-at >= cs.headerTicks || st == http.StateIdle && now-at >= cs.idle {
			late = append(late, tc)
		}
	}
	cs.mu.Unlock()
	for _, tc := range late {
		tc.Close() // net/http's read fails and it reports StateClosed
	}
}

// close stops the sweeps.
func (cs *conns) close() {
	close(cs.stop)
	<-cs.done
}
