package engine

import (
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/private"
	"github.com/rolecall/rolecall/server"
)

// Keyring entries of the credential listener. The TLS pair is one entry
// (certificate and key PEM blocks together); tls-cert and tls-key are the
// two entries of earlier versions, read and removed.
const (
	keyListenerToken = "listener-token"
	keyTLSPair       = "tls-pair"
	keyTLSCert       = "tls-cert"
	keyTLSKey        = "tls-key"
)

// secrets owns the credential listener's bearer token and TLS
// pair. The token lives in the keyring and in the 0600 token file that
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names; the listener is told of
// every change through setToken.
type secrets struct {
	keyring   *keyring.Keyring
	tokenFile string
	log       *slog.Logger // nil: discarded

	mu       sync.Mutex             // one load or rotation at a time
	current  atomic.Pointer[string] // read without the lock: a rotation may wait on the keyring
	setToken func(string)           // the listener's; nil until it exists
	settled  atomic.Bool            // the keyring agreed on the token in force (see confirm)
}

// Settled reports whether the keyring has agreed on the token in force;
// until then confirm is to be called again when the keyring answers.
func (s *secrets) Settled() bool { return s.settled.Load() }

// load returns the bearer token kept from an earlier start, or a new one,
// saved. The keyring holds it; the token file (0600, ours) carries it too,
// so it is used when there is no keyring or the keyring is locked or slow
// at start (autostart before the user unlocked it).
func (s *secrets) load(gen func() (string, error)) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, err := s.keyring.Get(keyListenerToken)
	switch {
	case err == nil && tok != "":
		s.current.Store(&tok)
		s.settled.Store(true)
		return tok, writeTokenFile(s.tokenFile, tok)
	case errors.Is(err, keyring.ErrNotFound) && s.keyring.Available():
	default: // no keyring, or it cannot be read now: the file says
		if tok, ferr := readOwnTokenFile(s.tokenFile); ferr == nil {
			if !s.keyring.Available() {
				s.keyring.Set(keyListenerToken, tok) // kept in memory, saved when a keyring appears
				s.settled.Store(true)
			}
			s.current.Store(&tok)
			return tok, nil
		}
		if err != nil && !errors.Is(err, keyring.ErrNotFound) {
			// A first start (no token file) while the keyring is locked
			// or silent: a fresh token in the 0600 file serves now.
			// Nothing is written to the keyring, which may hold a token
			// of an earlier start: confirm settles it when the keyring
			// answers (the keyring's token wins, else it gets this one).
			why := err
			if tok, err = gen(); err != nil {
				return "", err
			}
			if s.log != nil {
				s.log.Warn("the keyring cannot be read now: serving with a new bearer token in the token file; the keyring is asked again when it answers",
					"what_to_do", keyring.ErrorMessage(why))
			}
			s.current.Store(&tok)
			return tok, writeTokenFile(s.tokenFile, tok)
		}
	}
	if tok, err = gen(); err != nil {
		return "", err
	}
	if err := s.keyring.Set(keyListenerToken, tok); err != nil {
		return "", fmt.Errorf("save bearer token in keyring: %w", err)
	}
	s.current.Store(&tok)
	s.settled.Store(true)
	return tok, writeTokenFile(s.tokenFile, tok)
}

// loadFile returns the token kept in the token file when the file is ours
// (0600, owner-only): the listener opens with it without waiting for the
// keyring, which confirm asks afterwards. An error: load must run instead.
func (s *secrets) loadFile() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, err := readOwnTokenFile(s.tokenFile)
	if err != nil {
		return "", err
	}
	if err := server.ValidToken(tok); err != nil {
		return "", err
	}
	s.current.Store(&tok)
	return tok, nil
}

// confirm asks the keyring about the token loadFile took from the file, as
// load would have: the keyring's token wins when it holds another one (a
// rotation whose file write failed): the listener gets it at once and the
// file is rewritten; a keyring without the token gets it; a keyring that
// cannot be read now leaves the file's token in force.
func (s *secrets) confirm() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, err := s.keyring.Get(keyListenerToken)
	switch {
	case err == nil && tok != "":
		if tok == s.Token() {
			s.settled.Store(true)
			return nil
		}
		if verr := server.ValidToken(tok); verr != nil {
			return fmt.Errorf("bearer token in the keyring: %w", verr)
		}
		// The file first: a client that sees the new token in force
		// and reads the file then gets the token the listener takes.
		werr := writeTokenFile(s.tokenFile, tok)
		s.current.Store(&tok)
		if s.setToken != nil {
			s.setToken(tok)
		}
		if s.log != nil {
			s.log.Warn("the keyring holds another bearer token than the token file: the keyring's is in force and the file is rewritten")
		}
		s.settled.Store(true)
		return werr
	case errors.Is(err, keyring.ErrNotFound), !s.keyring.Available():
		// Not in the keyring yet (or no keyring: memory keeps it, and
		// writes it when one appears).
		if err := s.keyring.Set(keyListenerToken, s.Token()); err != nil {
			return fmt.Errorf("save bearer token in keyring: %w", err)
		}
		s.settled.Store(true)
		return nil
	default: // locked or slow: the file's token stays in force
		return err
	}
}

// Token is the bearer token in force.
func (s *secrets) Token() string {
	if t := s.current.Load(); t != nil {
		return *t
	}
	return ""
}

// RotateToken replaces the token in the keyring, the token file and the
// listener as one step: when a write fails, what was written is put back
// (a keyring write it refused and would retry is replaced by the old
// token), so the next start uses the token the user was last told.
func (s *secrets) RotateToken() (string, error) {
	tok, err := server.NewToken()
	if err != nil {
		return "", fmt.Errorf("token not rotated: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.keyring.Set(keyListenerToken, tok); err != nil {
		s.restoreKeyring()
		return "", fmt.Errorf("token not rotated: save it in the keyring: %w", err)
	}
	if err := writeTokenFile(s.tokenFile, tok); err != nil {
		s.restoreKeyring()
		return "", fmt.Errorf("token not rotated: %w", err)
	}
	s.current.Store(&tok)
	if s.setToken != nil {
		s.setToken(tok)
	}
	return tok, nil
}

// restoreKeyring puts the token in force back into the keyring after a
// rotation failed half way. If the keyring refuses, the keyring retries
// the old token, which replaces the new one it was retrying.
func (s *secrets) restoreKeyring() {
	if err := s.keyring.Set(keyListenerToken, s.Token()); err != nil && s.log != nil {
		s.log.Warn("bearer token rotation undone; the keyring will get the old token back when it answers", "err", err)
	}
}

// SaveTLS stores a certificate and key pair as one keyring entry: both or
// neither (a keyring that refuses it keeps the whole pair pending and
// retries it). Entries of the two-entry form of earlier versions go.
func (s *secrets) SaveTLS(cert, key []byte) error {
	pair := strings.TrimRight(string(cert), "\n") + "\n" + string(key)
	if err := s.keyring.Set(keyTLSPair, pair); err != nil {
		return fmt.Errorf("save the TLS pair in the keyring: %w", err)
	}
	s.keyring.Delete(keyTLSCert)
	s.keyring.Delete(keyTLSKey)
	return nil
}

// errNoTLSPair: no pair is saved.
var errNoTLSPair = errors.New("no TLS certificate saved: use `rolecall tls save --cert FILE --key FILE`")

// LoadTLS returns the stored pair: the certificate blocks and the key. A
// pair of the two-entry form of earlier versions is read too; one half of
// it alone (a key written without its certificate) is unusable, and said
// so.
func (s *secrets) LoadTLS() (cert, key []byte, err error) {
	v, err := s.keyring.Get(keyTLSPair)
	if errors.Is(err, keyring.ErrNotFound) {
		return s.loadTwoEntries()
	}
	if err != nil {
		return nil, nil, err
	}
	cert, key = splitPair([]byte(v))
	return cert, key, nil
}

// loadTwoEntries reads the pair as versions before the one entry kept it.
func (s *secrets) loadTwoEntries() (cert, key []byte, err error) {
	c, cerr := s.keyring.Get(keyTLSCert)
	k, kerr := s.keyring.Get(keyTLSKey)
	switch {
	case errors.Is(cerr, keyring.ErrNotFound) && errors.Is(kerr, keyring.ErrNotFound):
		return nil, nil, errNoTLSPair
	case cerr != nil && !errors.Is(cerr, keyring.ErrNotFound):
		return nil, nil, cerr
	case kerr != nil && !errors.Is(kerr, keyring.ErrNotFound):
		return nil, nil, kerr
	}
	return []byte(c), []byte(k), nil // one half empty: X509KeyPair says it is unusable
}

// splitPair parts a stored pair into its CERTIFICATE blocks and the rest
// (the key), so that `tls print` never shows the key.
func splitPair(pair []byte) (cert, key []byte) {
	for rest := pair; ; {
		b, r := pem.Decode(rest)
		if b == nil {
			return cert, key
		}
		if b.Type == "CERTIFICATE" {
			cert = append(cert, pem.EncodeToMemory(b)...)
		} else {
			key = append(key, pem.EncodeToMemory(b)...)
		}
		rest = r
	}
}

// DeleteTLS removes the stored pair (both forms).
func (s *secrets) DeleteTLS() error {
	if err := s.keyring.Delete(keyTLSPair); err != nil {
		return err
	}
	if err := s.keyring.Delete(keyTLSCert); err != nil {
		return err
	}
	return s.keyring.Delete(keyTLSKey)
}

// writeTokenFile writes tok to path, readable by the current user only
// (private.WriteFile: mode 0600, or a user-only ACL on Windows),
// with no trailing newline (SDKs send the file's bytes as the header
// value), replacing the file atomically so that a reader never sees half a
// token.
func writeTokenFile(path, tok string) error {
	if err := private.WriteFile(path, []byte(tok)); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	return nil
}

// readOwnTokenFile reads a token file only if it is ours and nobody else
// could have written or read it.
func readOwnTokenFile(path string) (string, error) {
	if err := private.Check(path); err != nil {
		return "", fmt.Errorf("not reusing the token file: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("empty token file")
	}
	return tok, nil
}

// Persistent reports whether what is saved outlives the process: an OS
// keyring holds it, not memory alone.
func (s *secrets) Persistent() bool { return s.keyring.Available() }
