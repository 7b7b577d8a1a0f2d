package engine

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
)

// carriedEntry is the keyring entry of the credentials a restored slot
// (the default slot, a pinned one) held, by profile name.
func carriedEntry(name string) string { return "role-credentials:" + name }

// carriedPins bounds the pinned slots whose credentials are kept (the
// first by name): a start with thousands of pins reads and writes the
// keyring one call at a time, and a pin beyond them is fetched at start
// as it always was.
const carriedPins = 32

// carriedNames are the names whose credentials are kept: the default
// slot's profile and the first carriedPins pinned names, sorted.
func carriedNames(def string, pins []string) []string {
	pins = slices.Sorted(slices.Values(pins))
	names := pins[:min(len(pins), carriedPins)]
	if def != "" {
		names = append([]string{def}, names...)
	}
	return names
}

// carrier keeps the credentials of the default and the pinned slots in
// the keyring, one entry per role, so that after a restart the manager
// serves them at once (creds.Carrier): no sign-in token read and no
// portal round trip before the first answer, and an offline restart
// still serves. It writes what those slots hold as it changes, deletes
// the entry of a role no such slot holds any more, and after a logout
// the entries of that session. The manager decides what it serves; the
// carrier only stores.
type carrier struct {
	keyring *keyring.Keyring
	log     *slog.Logger

	// mu is held across a sync or a forget, keyring calls included, so
	// that a forget after a sign-out cannot be undone by a sync that
	// read the slots before it.
	mu sync.Mutex
	// known are the entries the keyring holds as far as this run knows:
	// read, written, or expected (the restored names, unread yet).
	known map[string]carriedKnown
}

// carriedKnown is what the carrier knows of one entry.
type carriedKnown struct {
	session string
	key     string // the access key id written or read; "" while unread
}

// carriedCreds is an entry's JSON: the profile as it resolved and the
// credentials whole (a field added to creds.Credentials is kept too).
type carriedCreds struct {
	Profile creds.Profile     `json:"profile"`
	Creds   creds.Credentials `json:"credentials"`
}

func newCarrier(k *keyring.Keyring, log *slog.Logger) *carrier {
	return &carrier{keyring: k, log: log, known: map[string]carriedKnown{}}
}

// expect notes the names restored at start whose entries are read
// (carriedNames): their entries, unread yet, are deleted like any other
// once no slot holds the name. Another name's entry is not read.
func (c *carrier) expect(names []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		if _, ok := c.known[n]; !ok {
			c.known[n] = carriedKnown{}
		}
	}
}

// Carried reads the entry of name (creds.Carrier), when name is one whose
// credentials are kept.
func (c *carrier) Carried(_ context.Context, name string) (creds.Profile, creds.Credentials, bool) {
	c.mu.Lock()
	_, kept := c.known[name]
	c.mu.Unlock()
	if !kept {
		return creds.Profile{}, creds.Credentials{}, false
	}
	cc, err := c.read(name)
	if err != nil {
		if !errors.Is(err, keyring.ErrNotFound) {
			c.log.Debug("credentials of the last run not read", "profile", name, "err", err)
		}
		return creds.Profile{}, creds.Credentials{}, false
	}
	c.mu.Lock()
	if _, ok := c.known[name]; ok { // not deleted meanwhile
		c.known[name] = carriedKnown{session: cc.Profile.Session, key: cc.Creds.AccessKeyID}
	}
	c.mu.Unlock()
	return cc.Profile, cc.Creds, true
}

func (c *carrier) read(name string) (carriedCreds, error) {
	var cc carriedCreds
	v, err := c.keyring.Get(carriedEntry(name))
	if err != nil {
		return cc, err
	}
	if err := json.Unmarshal([]byte(v), &cc); err != nil || cc.Profile.Name != name {
		return cc, errors.New("keyring entry " + carriedEntry(name) + " is damaged")
	}
	return cc, nil
}

// sync writes the credentials the default slot and the first pinned slots
// (carriedPins, by name) hold, valid now, where the keyring holds others,
// and deletes the entries of roles no such slot holds any more and of
// those that need a login and hold nothing (signed out). A slot still
// fetching keeps its entry. The slots are read with c.mu held, so that a
// forget after a sign-out is never undone by a sync that read them before.
func (c *carrier) sync(snapshot func() creds.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, now := snapshot(), time.Now()
	slots := st.Named // sorted by name
	if st.Default != nil {
		slots = append([]creds.Slot{*st.Default}, slots...)
	}
	held := map[string]creds.Slot{} // the valid credentials to keep, by role
	keep := map[string]bool{}       // the entries that stay
	pins := 0
	for _, s := range slots {
		if !s.IsDefault() {
			if !s.Pinned || pins == carriedPins {
				continue
			}
			pins++
		}
		name := s.Profile.Name
		switch {
		case s.Creds.ValidAt(now):
			held[name], keep[name] = s, true
		case s.State != creds.StateLoginRequired:
			keep[name] = true
		}
	}
	for name, s := range held {
		if c.known[name].key == s.Creds.AccessKeyID {
			continue
		}
		if err := c.write(s); err != nil {
			c.log.Warn("could not keep the credentials for the next start", "profile", name, "err", err,
				"what_to_do", keyring.ErrorMessage(err))
		}
		c.known[name] = carriedKnown{session: s.Profile.Session, key: s.Creds.AccessKeyID}
	}
	for name := range c.known {
		if !keep[name] {
			c.deleteLocked(name)
		}
	}
}

func (c *carrier) write(s creds.Slot) error {
	v, err := json.Marshal(carriedCreds{Profile: s.Profile, Creds: s.Creds})
	if err != nil {
		return err
	}
	return c.keyring.Set(carriedEntry(s.Profile.Name), string(v))
}

// forget deletes the entries of session after a logout, and those whose
// session is not known yet (restored names unread): what a logout
// signed out never comes back at the next start.
func (c *carrier) forget(session string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, k := range c.known {
		if k.session == session || k.key == "" {
			c.deleteLocked(name)
		}
	}
}

// deleteLocked deletes the entry of name; the keyring retries a delete it
// refused. c.mu is held.
func (c *carrier) deleteLocked(name string) {
	if err := c.keyring.Delete(carriedEntry(name)); err != nil {
		c.log.Warn("could not delete the kept credentials", "profile", name, "err", err,
			"what_to_do", keyring.ErrorMessage(err))
	}
	delete(c.known, name)
}

// keepCredentials writes the slots' credentials for the next start as
// they change, until the engine stops.
func (e *Engine) keepCredentials() {
	defer e.wg.Done()
	events, stop := e.manager.Subscribe()
	defer stop()
	e.carrier.sync(e.manager.Snapshot)
	for {
		select {
		case <-events:
			e.carrier.sync(e.manager.Snapshot)
		case <-e.ctx.Done():
			return
		}
	}
}
