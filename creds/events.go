package creds

// Subscribe returns a channel that receives a value after state changes,
// and a function that ends the subscription. Events coalesce: a subscriber
// that is busy gets one event for many changes and re-reads Snapshot.
func (m *Manager) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	m.subMu.Lock()
	m.subs[ch] = struct{}{}
	m.subMu.Unlock()
	return ch, func() {
		m.subMu.Lock()
		delete(m.subs, ch)
		m.subMu.Unlock()
	}
}

// publishLocked swaps in a new snapshot and tells subscribers. m.mu must be
// held; sending never blocks.
func (m *Manager) publishLocked() {
	snap := make(map[string]*Slot, len(m.slots))
	for name, s := range m.slots {
		v := &Slot{
			Name:      name,
			Profile:   s.profile,
			Creds:     s.creds,
			State:     s.state,
			Pinned:    s.pinned,
			Permanent: s.permanent,
		}
		if s.err != nil {
			v.Err = s.err.Error()
		}
		v.NextRefresh = m.dueLocked(s)
		snap[name] = v
	}
	m.snap.Store(&snap)
	m.subMu.Lock()
	for ch := range m.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	m.subMu.Unlock()
}
