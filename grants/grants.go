// Package grants owns rolecall's grants: named credentials, one per
// consumer, each bound to one role (a named slot), expiring, revocable and
// counted, as the ECS agent gives each task its own credential ID.
//
// A grant's secret is 32 random bytes (base64url) shown once, when it is
// minted, and kept nowhere: the store keeps its SHA-256 (a verifier, not a
// secret: nothing can be presented from it) in a 0600 file in the state
// dir with the grant's name, role, times and use count. So the grants
// survive restarts without the keyring (a locked keyring after a restart
// refuses no consumer), and a copy of the file gives no access. A lost
// secret is replaced by a new grant, as an access key is.
//
// Lookups on the credential path read an immutable index swapped
// atomically; they take no lock. A presented secret is hashed and the hash
// looked up; the stored hash is then compared in constant time.
package grants

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/private"
)

// FileName is the store's file in the state dir.
const FileName = "grants.json"

// secretLen is the length of a grant's secret: 32 bytes, base64url.
const secretLen = 43

// keepEnded is how long a revoked or expired grant is remembered, so that
// its consumer is told what happened rather than "unknown secret".
const keepEnded = 7 * 24 * time.Hour

// Store owns the grants: it alone mints, lists, revokes and checks them,
// and writes their file.
type Store struct {
	path     string
	now      func() time.Time
	log      *slog.Logger
	onChange func()

	mu      sync.Mutex // serialises changes and writes of the file
	entries []*entry
	// uses counts hand-outs of every grant; saved is its value at the
	// last write (s.mu), so that Flush writes only what is new.
	uses  atomic.Int64
	saved int64
	index atomic.Pointer[map[[32]byte]*entry]
}

// entry is one grant. The fields but the usage never change once the
// entry is published in the index; revoking publishes a new entry.
type entry struct {
	g    creds.Grant
	hash [32]byte
	use  *usage // shared by the entries of one grant
	now  func() time.Time
	uses *atomic.Int64 // the store's count of every hand-out
}

// usage counts hand-outs on the credential path without a lock.
type usage struct {
	count atomic.Int64
	last  atomic.Int64 // unix nanoseconds; 0: never
	from  atomic.Pointer[string]
}

// record is one grant in the file.
type record struct {
	Name     string    `json:"name"`
	Slot     string    `json:"slot"`
	Role     string    `json:"definition,omitempty"`
	SHA256   string    `json:"sha256"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`
	Revoked  time.Time `json:"revoked,omitzero"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Uses     int64     `json:"uses"`
	From     string    `json:"from,omitempty"`
}

// Options configure a Store.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	Log *slog.Logger
	// OnChange is called, without a lock held, after a grant was added
	// or revoked (the tray redraws); nil: nobody is told.
	OnChange func()
}

// Open reads the grants kept in dir; a missing file is no grant. A
// damaged file is an error: starting without the grants would refuse
// every consumer without saying why, and writing over the file would lose
// them.
func Open(dir string, o Options) (*Store, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: filepath.Join(dir, FileName), now: now, log: log, onChange: o.OnChange}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read grants: %w", err)
	default:
		if err := private.Check(s.path); err != nil {
			return nil, fmt.Errorf("read grants: %w", err)
		}
		var recs []record
		if err := json.Unmarshal(b, &recs); err != nil {
			return nil, fmt.Errorf("read grants: %s is damaged (%v): fix or remove it", s.path, err)
		}
		for _, r := range recs {
			e, err := fromRecord(r)
			if err != nil {
				return nil, fmt.Errorf("read grants: %s: %w", s.path, err)
			}
			e.now, e.uses = now, &s.uses
			s.entries = append(s.entries, e)
		}
	}
	s.publish()
	return s, nil
}

func fromRecord(r record) (*entry, error) {
	h, err := hex.DecodeString(r.SHA256)
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("grant %q has no valid sha256", r.Name)
	}
	e := &entry{g: creds.Grant{Name: r.Name, Slot: r.Slot, Definition: r.Role, Created: r.Created, Expires: r.Expires, Revoked: r.Revoked}, use: &usage{}}
	copy(e.hash[:], h)
	e.use.count.Store(r.Uses)
	if !r.LastUsed.IsZero() {
		e.use.last.Store(r.LastUsed.UnixNano())
	}
	if r.From != "" {
		from := r.From
		e.use.from.Store(&from)
	}
	return e, nil
}

// publish makes the entries the lookup index; s.mu held (or not yet shared).
func (s *Store) publish() {
	idx := make(map[[32]byte]*entry, len(s.entries))
	for _, e := range s.entries {
		idx[e.hash] = e
	}
	s.index.Store(&idx)
}

// Add mints a grant named name for slot, ending after ttl (0: when
// revoked), and returns it with its secret, which is not kept.
func (s *Store) Add(name, slot string, ttl time.Duration) (creds.Grant, string, error) {
	return s.AddFor(name, creds.Profile{Name: slot}, ttl)
}

// AddFor is Add for the resolved profile p: the grant reads p's role as
// it is defined now (p.Definition), and refuses once p's name names
// another.
func (s *Store) AddFor(name string, p creds.Profile, ttl time.Duration) (creds.Grant, string, error) {
	slot := p.Name
	if !ValidName(name) {
		return creds.Grant{}, "", creds.Errorf(creds.GrantBadName, nil, name)
	}
	if ttl < 0 || (ttl > 0 && ttl < time.Second) {
		return creds.Grant{}, "", creds.Errorf(creds.GrantBadTTL, nil, ttl)
	}
	if slot == creds.DefaultSlot {
		return creds.Grant{}, "", errors.New("add grant: a grant reads a named slot: name its profile")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return creds.Grant{}, "", fmt.Errorf("add grant: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	s.mu.Lock()
	defer s.changed()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	for _, e := range s.entries {
		if e.g.Name == name && state(e.g, now) == creds.GrantActive {
			return creds.Grant{}, "", creds.Errorf(creds.GrantExists, nil, name, name)
		}
	}
	e := &entry{g: creds.Grant{Name: name, Slot: slot, Definition: p.Definition, Created: now, State: creds.GrantActive}, hash: sha256.Sum256([]byte(secret)), use: &usage{}, now: s.now, uses: &s.uses}
	if ttl > 0 {
		e.g.Expires = now.Add(ttl)
	}
	old := s.entries
	s.entries = append(s.entries[:len(s.entries):len(s.entries)], e)
	if err := s.save(); err != nil {
		s.entries = old
		return creds.Grant{}, "", fmt.Errorf("add grant: %w", err)
	}
	s.publish()
	s.log.Info("grant added", "grant", name, "slot", slot, "expires", e.g.Expires)
	return e.g, secret, nil
}

// Revoke ends the active grant named name at once: its next request is
// refused.
func (s *Store) Revoke(name string) (creds.Grant, error) {
	s.mu.Lock()
	defer s.changed()
	defer s.mu.Unlock()
	now := s.now()
	for i, e := range s.entries {
		if e.g.Name != name || state(e.g, now) != creds.GrantActive {
			continue
		}
		r := &entry{g: e.g, hash: e.hash, use: e.use, now: s.now, uses: &s.uses}
		r.g.Revoked = now
		r.g.State = creds.GrantRevoked
		old := s.entries
		s.entries = append([]*entry(nil), s.entries...)
		s.entries[i] = r
		if err := s.save(); err != nil {
			s.entries = old
			return creds.Grant{}, fmt.Errorf("revoke grant %s: %w", name, err)
		}
		s.publish()
		s.log.Info("grant revoked", "grant", name)
		return r.view(), nil
	}
	return creds.Grant{}, creds.Errorf(creds.GrantNoSuchName, creds.ErrNoSuchGrant, name)
}

// changed tells OnChange; s.mu is not held.
func (s *Store) changed() {
	if s.onChange != nil {
		s.onChange()
	}
}

// List returns every grant remembered, active ones first, by name.
func (s *Store) List() []creds.Grant {
	now := s.now()
	idx := *s.index.Load()
	out := make([]creds.Grant, 0, len(idx))
	for _, e := range idx {
		g := e.view()
		g.State = state(g, now)
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		ai, aj := out[i].State == creds.GrantActive, out[j].State == creds.GrantActive
		if ai != aj {
			return ai
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Created.After(out[j].Created)
	})
	return out
}

// Check returns the grant whose secret is secret, if it may be used now,
// and the counter of its hand-outs; else an error wrapping
// ErrGrantRevoked or ErrGrantExpired (with the grant, to say which) or
// ErrNoSuchGrant. It takes no lock and allocates nothing.
func (s *Store) Check(secret string) (creds.Grant, creds.GrantUse, error) {
	e := s.lookup(secret)
	if e == nil {
		return creds.Grant{}, nil, creds.ErrNoSuchGrant
	}
	g := e.g
	g.State = state(g, s.now())
	switch g.State {
	case creds.GrantRevoked:
		return g, nil, creds.ErrGrantRevoked
	case creds.GrantExpired:
		return g, nil, creds.ErrGrantExpired
	}
	return g, e, nil
}

func (s *Store) lookup(secret string) *entry {
	// The map is keyed by the hash: its lookup time says something about
	// the hash only, which says nothing about a secret.
	if len(secret) != secretLen {
		return nil // not the form of a grant's secret (the user's token is, too)
	}
	var buf [secretLen]byte
	copy(buf[:], secret)
	h := sha256.Sum256(buf[:])
	e := (*s.index.Load())[h]
	if e == nil || subtle.ConstantTimeCompare(h[:], e.hash[:]) != 1 {
		return nil
	}
	return e
}

// Used counts one hand-out of the grant to client (its executable, or
// its address). It takes no lock and, for the same client as the last
// time, allocates nothing.
func (e *entry) Used(client string) {
	e.use.count.Add(1)
	e.uses.Add(1)
	e.use.last.Store(e.now().UnixNano())
	if p := e.use.from.Load(); client != "" && (p == nil || *p != client) {
		c := client // only a new client's name is copied to the heap
		e.use.from.Store(&c)
	}
}

// state is g's state at now.
func state(g creds.Grant, now time.Time) creds.GrantState {
	switch {
	case !g.Revoked.IsZero():
		return creds.GrantRevoked
	case !g.Expires.IsZero() && !now.Before(g.Expires):
		return creds.GrantExpired
	}
	return creds.GrantActive
}

// view is the grant with its usage.
func (e *entry) view() creds.Grant {
	g := e.g
	g.Uses = e.use.count.Load()
	if n := e.use.last.Load(); n != 0 {
		g.LastUsed = time.Unix(0, n).UTC()
	}
	if p := e.use.from.Load(); p != nil {
		g.From = *p
	}
	return g
}

// Flush writes the use counts and last uses when there were hand-outs
// since the last write; its owner calls it now and then, so that a crash
// loses little of them.
func (s *Store) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uses.Load() == s.saved {
		return nil
	}
	return s.save()
}

// Close writes what Flush would.
func (s *Store) Close() error { return s.Flush() }

// prune forgets grants that ended more than keepEnded ago; s.mu held.
func (s *Store) prune(now time.Time) {
	kept := s.entries[:0:0]
	for _, e := range s.entries {
		end := e.g.Revoked
		if end.IsZero() {
			end = e.g.Expires
		}
		if !end.IsZero() && now.Sub(end) > keepEnded {
			continue
		}
		kept = append(kept, e)
	}
	s.entries = kept
}

// save writes every entry; s.mu held.
func (s *Store) save() error {
	uses := s.uses.Load()
	recs := make([]record, 0, len(s.entries))
	for _, e := range s.entries {
		g := e.view()
		recs = append(recs, record{
			Name: g.Name, Slot: g.Slot, Role: g.Definition, SHA256: hex.EncodeToString(e.hash[:]), Created: g.Created,
			Expires: g.Expires, Revoked: g.Revoked, LastUsed: g.LastUsed, Uses: g.Uses, From: g.From,
		})
	}
	b, _ := json.MarshalIndent(recs, "", "  ")
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	if err := private.WriteFile(s.path, append(b, '\n')); err != nil {
		return err
	}
	s.saved = uses
	return nil
}

// ValidName reports whether name can name a grant: 1 to 64 letters,
// digits, '.', '_', '-' or '@' (it is printed in logs and shell lines).
func ValidName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '@':
		default:
			return false
		}
	}
	return true
}
