package sso

import "sync"

// Event tells a subscriber what changed in the Identity Center client.
type Event struct {
	// Session is the key of the session concerned.
	Session string
	// Login is true when a login or a renewal made the session usable;
	// false when only what a menu shows changed (a login started, shows
	// its code, ended).
	Login bool
}

// eventBuffer is how many events wait for a slow subscriber before new
// ones are dropped; logins happen at a person's pace.
const eventBuffer = 64

// events fans the client's events out to subscribers without ever
// blocking the client.
type events struct {
	mu   sync.Mutex
	next int
	subs map[int]chan Event
}

// Subscribe returns a channel of events and a function that ends the
// subscription. A subscriber that falls eventBuffer events behind loses
// the newest ones rather than block the client.
func (c *Client) Subscribe() (<-chan Event, func()) {
	e := &c.events
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.subs == nil {
		e.subs = map[int]chan Event{}
	}
	id := e.next
	e.next++
	ch := make(chan Event, eventBuffer)
	e.subs[id] = ch
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.subs, id)
	}
}

func (c *Client) publish(ev Event) {
	e := &c.events
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ch := range e.subs {
		select {
		case ch <- ev:
		default:
			c.log.Warn("identity center event dropped: subscriber too slow", "session", ev.Session)
		}
	}
}
