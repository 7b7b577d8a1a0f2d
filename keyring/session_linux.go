package keyring

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/godbus/dbus/v5"
	gokeyring "github.com/zalando/go-keyring"
	ss "github.com/zalando/go-keyring/secret_service"
)

// osBackend reads through a kept Secret Service session.
func osBackend(log *slog.Logger) Backend { return &secretService{log: log} }

// secretService is go-keyring's Secret Service provider with its reads
// made through one session kept open: go-keyring's Get asks for the login
// collection, unlocks it, searches it, opens a session, unlocks the item,
// reads the secret and closes the session (seven round trips); a read
// here searches and reads the secret (two). It asks what go-keyring asks
// (the "login" collection, else the default alias; the attributes
// "service" and "username"; the first item found), and what it cannot
// answer that way it leaves to go-keyring's Get: a locked collection or
// item (go-keyring unlocks it, with its prompt, or says why not), and any
// failure, which may be a stale session (gnome-keyring restarted, the bus
// reconnected): the kept session is dropped then, and the next read opens
// another. The connection is godbus's shared session bus, go-keyring's
// too (reconnected by godbus when it drops); the session is this
// backend's, closed by close.
type secretService struct {
	log *slog.Logger

	mu        sync.Mutex
	svc       *ss.SecretService // nil: nothing kept
	login     dbus.BusObject    // the "login" collection; nil: asked at every read, as go-keyring does
	session   dbus.BusObject    // nil: none kept (not opened yet, or dropped)
	closed    bool              // by close: every read is go-keyring's from then on
	fallbacks int               // reads made by go-keyring's Get (tests look)
}

const (
	collectionLocked = "org.freedesktop.Secret.Collection.Locked"
	errIsLocked      = "org.freedesktop.Secret.Error.IsLocked"
)

// errUnsure: the kept session cannot tell (a locked collection or item);
// go-keyring's Get can. The session is kept.
var errUnsure = errors.New("the collection or item is locked")

func (s *secretService) Set(service, user, password string) error {
	return gokeyring.Set(service, user, password)
}

func (s *secretService) Delete(service, user string) error { return gokeyring.Delete(service, user) }

// Get reads user's secret of service through the kept session (opened
// first if there is none), or with go-keyring's Get when that cannot
// answer.
func (s *secretService) Get(service, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.fallbacks++
		return gokeyring.Get(service, user)
	}
	if s.session == nil {
		err := s.openLocked()
		if s.svc == nil {
			return "", err // no session bus: go-keyring's Get would fail just so
		}
		if err != nil {
			s.log.Debug("keyring: no Secret Service session kept; reading without one", "err", err)
			s.dropLocked()
			s.fallbacks++
			return gokeyring.Get(service, user)
		}
	}
	v, err := s.readLocked(service, user)
	if err == nil || errors.Is(err, gokeyring.ErrNotFound) {
		return v, err
	}
	if !errors.Is(err, errUnsure) {
		s.log.Debug("keyring: the kept Secret Service session failed; dropped, this read made without it", "err", err)
		s.dropLocked()
	}
	s.fallbacks++
	return gokeyring.Get(service, user)
}

// readLocked reads through the kept session: errUnsure when the
// collection is locked, another error when the session may be stale.
func (s *secretService) readLocked(service, user string) (string, error) {
	coll := s.login
	if coll == nil {
		coll = s.svc.GetLoginCollection()
	}
	items, err := s.svc.SearchItems(coll, map[string]string{"username": user, "service": service})
	if err != nil {
		return "", err
	}
	if len(items) == 0 {
		// go-keyring unlocks the collection before it searches: a
		// locked one may hide nothing, or its prompt may fail.
		locked, err := coll.GetProperty(collectionLocked)
		if err != nil {
			return "", errUnsure // go-keyring's Get tells; the session may be fine
		}
		if l, ok := locked.Value().(bool); !ok || l {
			return "", errUnsure
		}
		return "", gokeyring.ErrNotFound
	}
	secret, err := s.svc.GetSecret(items[0], s.session.Path())
	if err != nil {
		// A locked item: the session is fine; go-keyring's Get unlocks
		// it or says why not.
		var de dbus.Error
		if errors.As(err, &de) && de.Name == errIsLocked {
			return "", errUnsure
		}
		return "", err
	}
	return string(secret.Value), nil
}

// openLocked connects (godbus's shared connection: at once when it is
// up) and opens a session; s.svc stays nil when there is no session bus.
func (s *secretService) openLocked() error {
	svc, err := ss.NewSecretService()
	if err != nil {
		return err
	}
	s.svc = svc
	if login := svc.GetCollection("login"); svc.CheckCollectionPath(login.Path()) == nil {
		s.login = login
	}
	s.session, err = svc.OpenSession()
	return err
}

// dropLocked forgets the kept session, closing it if it is still there.
func (s *secretService) dropLocked() {
	if s.session != nil {
		s.svc.Close(s.session) // a stale one is gone already
	}
	s.svc, s.login, s.session = nil, nil, nil
}

// warm opens the session ahead of the first read.
func (s *secretService) warm() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.session != nil {
		return nil
	}
	if err := s.openLocked(); err != nil {
		s.dropLocked()
		return err
	}
	return nil
}

// close closes the kept session; reads after it are go-keyring's.
func (s *secretService) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.session == nil {
		return nil
	}
	err := s.svc.Close(s.session)
	s.svc, s.login, s.session = nil, nil, nil
	return err
}
