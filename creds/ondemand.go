package creds

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Resolver names the profile behind a named slot that is not loaded, so
// that the first request for it loads it (named slots on demand). It
// returns an error wrapping ErrNoSuchSlot for names it does not know.
type Resolver interface {
	ResolveSlot(ctx context.Context, name string) (Profile, error)
}

// ResolverFunc adapts a function to the Resolver interface.
type ResolverFunc func(ctx context.Context, name string) (Profile, error)

// ResolveSlot calls f.
func (f ResolverFunc) ResolveSlot(ctx context.Context, name string) (Profile, error) {
	return f(ctx, name)
}

// onDemand loads named slot name on its first request: the name is
// resolved and loaded in the background (one load per name, however many
// requests ask), and the request waits for it at most RequestWait. A load
// still running then answers ErrUnavailable, which clients retry; the load
// goes on and the retry finds the slot.
func (m *Manager) onDemand(ctx context.Context, name string, r Resolver) (Credentials, Slot, error) {
	m.mu.Lock()
	if m.demand == nil {
		m.demand = map[string]*call{}
	}
	if _, loaded := m.slots[name]; loaded {
		// Loaded since the caller read the snapshot (maybe by the very
		// load it would otherwise start again): the snapshot has it now.
		m.mu.Unlock()
		return m.Get(ctx, name)
	}
	if m.unloaded[name] {
		// The user unloaded it: final until the user loads it again.
		m.mu.Unlock()
		return Credentials{}, Slot{}, ErrUnloaded
	}
	c, ok := m.demand[name]
	if !ok {
		if m.ctx.Err() != nil {
			m.mu.Unlock()
			return Credentials{}, Slot{}, ErrClosed
		}
		c = &call{done: make(chan struct{})}
		m.demand[name] = c
		m.wg.Add(1)
		go m.loadOnDemand(name, r, c)
	}
	m.mu.Unlock()
	t := m.clock.NewTimer(m.cfg.RequestWait)
	defer t.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			return Credentials{}, Slot{}, c.err
		}
		s, _ := m.Lookup(name)
		return c.creds, s, nil
	case <-t.C():
		return Credentials{}, Slot{}, fmt.Errorf("%w: slot %s is being loaded on its first request; retry", ErrUnavailable, name)
	case <-ctx.Done():
		return Credentials{}, Slot{}, ctx.Err()
	case <-m.ctx.Done():
		return Credentials{}, Slot{}, ErrClosed
	}
}

// loadOnDemand resolves and loads slot name, then releases the waiters of
// c. Its error says what the request answers: ErrNoSuchSlot for a name
// nobody knows, ErrLoginRequired (and a login prompt) for a known role
// whose session needs a login, ErrUnavailable otherwise.
func (m *Manager) loadOnDemand(name string, r Resolver, c *call) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		delete(m.demand, name)
		m.mu.Unlock()
		close(c.done)
	}()
	if !m.takeTurn() {
		c.err = ErrClosed
		return
	}
	defer m.endTurn()
	start := m.clock.Now()
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.FetchTimeout)
	defer cancel()
	p, err := r.ResolveSlot(ctx, name)
	switch {
	case errors.Is(err, ErrNoSuchSlot):
		c.err = err
		return
	case err != nil:
		c.err = fmt.Errorf("%w: %v", ErrUnavailable, err)
		return
	}
	s, err := m.load(ctx, name, p, false)
	switch {
	case err == nil:
		c.creds = s.Creds
		m.log.Info("slot loaded on its first request", "slot", name, "took", m.clock.Now().Sub(start).Round(time.Millisecond))
	case errors.Is(err, ErrLoginRequired):
		c.err = err
		m.loginRequired(p)
	case errors.Is(err, ErrSuperseded):
		// The user unloaded (or loaded) it meanwhile: that answers.
		c.err = err
		m.mu.Lock()
		if m.unloaded[name] {
			c.err = ErrUnloaded
		}
		m.mu.Unlock()
	default:
		c.err = fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
}

// GetGranted is GetSlot for the slot that a grant reads: a slot that is
// not loaded is loaded on its request as a named slot on demand is, also
// when loading on demand is off (no Resolver): the user granted this one
// role. Names resolves it then.
func (m *Manager) GetGranted(ctx context.Context, name string) (*Slot, error) {
	r := m.cfg.Resolver
	if r == nil {
		r = m.cfg.Names
	}
	if _, loaded := (*m.snap.Load())[name]; loaded || name == DefaultSlot || r == nil {
		return m.GetSlot(ctx, name)
	}
	c, got, err := m.onDemand(ctx, name, r)
	if err != nil {
		return nil, err
	}
	got.Creds = c
	return &got, nil
}
