package creds

import "time"

// reuseMax bounds how many roles' credentials the manager keeps after a
// slot let them go.
const reuseMax = 32

// kept are credentials a slot let go (its role was switched or it was
// unloaded), kept so that switching back needs no fetch while they would
// not be refreshed yet anyway.
type kept struct {
	profile Profile
	creds   Credentials
}

// keepLocked remembers s's credentials as it lets them go. m.mu is held.
func (m *Manager) keepLocked(s *slot) {
	if s == nil || !s.resolved {
		return
	}
	m.keepCredsLocked(s.profile, s.creds)
}

// keepCredsLocked remembers credentials of p no slot holds (any longer).
// m.mu is held.
func (m *Manager) keepCredsLocked(p Profile, c Credentials) {
	if c.AccessKeyID == "" {
		return
	}
	if m.kept == nil {
		m.kept = map[string]kept{}
	}
	m.kept[p.Name] = kept{profile: p, creds: c}
	for len(m.kept) > reuseMax { // let the soonest to expire go
		first := ""
		for name, k := range m.kept {
			if first == "" || k.creds.Expiration.Before(m.kept[first].creds.Expiration) {
				first = name
			}
		}
		delete(m.kept, first)
	}
}

// reusableLocked returns credentials for p that a slot holds or let go and
// that the same refresh rules would not fetch again yet: valid beyond the
// refresh time RefreshAt gives. m.mu is held.
func (m *Manager) reusableLocked(p Profile, now time.Time) (Credentials, bool) {
	fresh := func(c Credentials) bool {
		return c.AccessKeyID != "" && now.Before(RefreshAt(c, m.cfg.RefreshWindow))
	}
	for _, s := range m.slots {
		if s.resolved && s.profile == p && s.state == StateOK && fresh(s.creds) {
			return s.creds, true
		}
	}
	k, ok := m.kept[p.Name]
	if !ok {
		return Credentials{}, false
	}
	if k.profile != p || !fresh(k.creds) {
		delete(m.kept, p.Name)
		return Credentials{}, false
	}
	return k.creds, true
}

// forgetKeptLocked drops the kept credentials of session's roles (after a
// logout they must not come back). m.mu is held.
func (m *Manager) forgetKeptLocked(session string) {
	for name, k := range m.kept {
		if k.profile.Session == session {
			delete(m.kept, name)
		}
	}
}
