package creds

import "context"

// Carrier keeps, across a restart, the credentials of the slots a restart
// puts back (Restore: the remembered default slot, the pinned ones), so
// that a restored slot serves at once what the last run held instead of
// waiting for upstream: no sign-in token read, no portal round trip, and
// an offline restart still serves. The application stores them (rolecall:
// the OS keyring) and writes what the slots hold as it changes; the
// Manager decides what it uses: credentials still valid, issued for the
// role the name resolves to now (the same Definition), of a session not
// signed out since this process started.
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
	case checkCreds(cr, m.clock.Now()) != nil:
		return Credentials{}, false
	}
	return cr, true
}
