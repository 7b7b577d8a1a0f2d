package creds

import (
	"context"
	"time"
)

// Carrier keeps, across a restart, the credentials of the slots a restart
// puts back (Restore: the remembered default slot, the pinned ones), so
// that a restored slot serves at once what the last run held instead of
// waiting for upstream: no sign-in token read, no portal round trip, and
// an offline restart still serves. The application stores them (rolecall:
// the OS keyring) and writes what the slots hold as it changes; the
// Manager decides what it uses: credentials still valid, issued for the
// role the name resolves to now (the same Definition), issued after the
// last sign-out of their session (SignedOut, kept across restarts by the
// application).
type Carrier interface {
	// Carried returns the profile, as it resolved in the last run, and
	// the credentials held for the role called name; ok is false when
	// none were kept or the store cannot be read now.
	Carried(ctx context.Context, name string) (p Profile, c Credentials, ok bool)
}

// carried returns the credentials the last run held for p when the
// Manager may serve them: issued for p as it resolves now and valid.
// (A session signed out since is checked where they land, see finish.)
func (m *Manager) carried(ctx context.Context, p Profile) (Credentials, bool) {
	cp, cr, ok := m.cfg.Carrier.Carried(ctx, p.Name)
	switch {
	case !ok:
		return Credentials{}, false
	case cp != p:
		m.log.Info("credentials of the last run not used: the profile is defined otherwise now", "profile", p.Name)
		return Credentials{}, false
	case checkCreds(cr, m.clock.Now()) != nil, cr.Issued.IsZero():
		return Credentials{}, false
	}
	return cr, true
}

// maxLifetime is the longest role session AWS issues: credentials issued
// longer ago than that have expired.
const maxLifetime = 12 * time.Hour

// signedOutSinceLocked reports whether session was signed out at or after
// issued. m.mu is held.
func (m *Manager) signedOutSinceLocked(session string, issued time.Time) bool {
	t, ok := m.signedOut[session]
	return ok && !issued.After(t)
}

// SignedOut returns the sessions signed out (in this run or, from
// Config.SignedOut, before) and when, for the application to keep across
// restarts: a logout holds even when the keyring entries of its
// credentials could not be deleted. Sign-outs older than the longest
// credential lifetime are left out: nothing issued before them is valid.
func (m *Manager) SignedOut() map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]time.Time{}
	oldest := m.clock.Now().Add(-maxLifetime)
	for session, t := range m.signedOut {
		if t.After(oldest) {
			out[session] = t
		}
	}
	return out
}
