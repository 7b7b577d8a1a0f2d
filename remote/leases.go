package remote

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// GrantPrefix starts the name of every grant rolecall ssh makes; the rest
// is the destination as the user typed it (characters a grant name cannot
// hold become '_'), so the tray and `rolecall grant list` show where each
// one is used.
const GrantPrefix = "ssh-"

// KeepTTL is how long a grant of `rolecall ssh --keep` lasts when no
// --ttl is given: it must end some time.
const KeepTTL = 12 * time.Hour

// Grants is what Leases needs of the owner of the grants.
type Grants interface {
	Add(name, slot string, ttl time.Duration) (creds.Grant, string, error)
	Revoke(name string) (creds.Grant, error)
	Check(secret string) (creds.Grant, creds.GrantUse, error)
}

// Leases owns the grants of rolecall ssh sessions, one per destination:
// the first session to a destination mints it, the next ones share it,
// and when the last one ends it is revoked (kept until its TTL when a
// session asked for --keep). The running rolecall holds one lease per
// session for as long as the session's control connection lasts, so a
// killed `rolecall ssh` leaves no grant behind. The secrets live in its
// memory only.
type Leases struct {
	grants Grants
	log    *slog.Logger
	mu     sync.Mutex
	held   map[string]*lease // by grant name
}

type lease struct {
	slot, secret string
	sessions     int
	keep         bool
}

// NewLeases returns the leases over grants.
func NewLeases(grants Grants, log *slog.Logger) *Leases {
	return &Leases{grants: grants, log: log, held: map[string]*lease{}}
}

// GrantName is the name of destination's grant.
func GrantName(destination string) string {
	b := []byte(GrantPrefix + destination)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-@", c) >= 0) {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// Acquire gives a session to destination its share of the grant for
// slot: the one the sessions to it hold, or a new one (ttl 0: until the
// last session ends; keep: until ttl, or KeepTTL). A destination serves
// one role at a time. It returns the grant's name and secret; release
// ends the share (more calls do nothing).
func (l *Leases) Acquire(destination, slot string, ttl time.Duration, keep bool) (grant, secret string, release func(), err error) {
	name := GrantName(destination)
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.held[name]
	if h != nil {
		if _, _, err := l.grants.Check(h.secret); err != nil {
			delete(l.held, name) // revoked (the tray) or expired: a new one is minted
			h = nil
		}
	}
	if h != nil && h.slot != slot {
		if h.sessions > 0 {
			return "", "", nil, creds.Errorf(creds.SSHOtherRole, nil, destination, h.slot, slot)
		}
		l.revoke(name)
		delete(l.held, name)
		h = nil
	}
	if h == nil {
		if keep && ttl == 0 {
			ttl = KeepTTL
		}
		var g creds.Grant
		g, secret, err = l.grants.Add(name, slot, ttl)
		var p *creds.Problem
		if errors.As(err, &p) && p.Text == creds.GrantExists {
			// Made by an earlier run of rolecall (--keep): its secret is
			// nowhere now, so it is replaced.
			l.revoke(name)
			g, secret, err = l.grants.Add(name, slot, ttl)
		}
		if err != nil {
			return "", "", nil, fmt.Errorf("grant for %s: %w", destination, err)
		}
		h = &lease{slot: g.Slot, secret: secret}
		l.held[name] = h
	}
	h.sessions++
	h.keep = h.keep || keep
	var once sync.Once
	return name, h.secret, func() { once.Do(func() { l.release(name, h) }) }, nil
}

func (l *Leases) release(name string, h *lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.sessions--
	if h.sessions > 0 || l.held[name] != h {
		return
	}
	if h.keep {
		return // until its TTL; the next session to it shares it again
	}
	delete(l.held, name)
	l.revoke(name)
}

// revoke ends the grant named name; l.mu held.
func (l *Leases) revoke(name string) {
	if _, err := l.grants.Revoke(name); err != nil && !errors.Is(err, creds.ErrNoSuchGrant) {
		l.log.Warn("revoke an ssh grant", "grant", name, "err", err)
	}
}
