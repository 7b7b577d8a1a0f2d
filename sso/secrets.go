package sso

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Keyring entries of the credential listener.
const (
	keyListenerToken = "listener-token"
	keyTLSCert       = "tls-cert"
	keyTLSKey        = "tls-key"
)

// ListenerSecrets keeps the credential listener's bearer token and TLS pair
// in the keyring, and the token also in the 0600 token file that
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names.
type ListenerSecrets struct {
	Keyring   *Keyring
	TokenFile string
}

// Token returns the bearer token kept from an earlier start, or a new one
// from gen, saved. Without a keyring, the token file (0600, ours) carries
// the token across restarts, so IDE settings keep working.
func (s ListenerSecrets) Token(gen func() (string, error)) (string, error) {
	tok, err := s.Keyring.Get(keyListenerToken)
	if err == nil && tok != "" {
		return tok, WriteTokenFile(s.TokenFile, tok)
	}
	if !errors.Is(err, ErrNotFound) && s.Keyring.Available() {
		return "", fmt.Errorf("read bearer token from keyring: %w", err)
	}
	if !s.Keyring.Available() {
		if tok, err := readOwnTokenFile(s.TokenFile); err == nil {
			s.Keyring.Set(keyListenerToken, tok)
			return tok, nil
		}
	}
	tok, err = gen()
	if err != nil {
		return "", err
	}
	return tok, s.SaveToken(tok)
}

// SaveToken stores tok in the keyring and the token file.
func (s ListenerSecrets) SaveToken(tok string) error {
	if err := s.Keyring.Set(keyListenerToken, tok); err != nil {
		return fmt.Errorf("save bearer token in keyring: %w", err)
	}
	return WriteTokenFile(s.TokenFile, tok)
}

// SaveTLS stores a certificate and key pair.
func (s ListenerSecrets) SaveTLS(cert, key []byte) error {
	if err := s.Keyring.Set(keyTLSKey, string(key)); err != nil {
		return fmt.Errorf("save TLS key in keyring: %w", err)
	}
	if err := s.Keyring.Set(keyTLSCert, string(cert)); err != nil {
		return fmt.Errorf("save TLS certificate in keyring: %w", err)
	}
	return nil
}

// LoadTLS returns the stored pair.
func (s ListenerSecrets) LoadTLS() (cert, key []byte, err error) {
	c, err := s.Keyring.Get(keyTLSCert)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, errors.New("no TLS certificate saved: use `rolecall tls save --cert FILE --key FILE`")
	}
	if err != nil {
		return nil, nil, err
	}
	k, err := s.Keyring.Get(keyTLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS key: %w", err)
	}
	return []byte(c), []byte(k), nil
}

// DeleteTLS removes the stored pair.
func (s ListenerSecrets) DeleteTLS() error {
	if err := s.Keyring.Delete(keyTLSCert); err != nil {
		return err
	}
	return s.Keyring.Delete(keyTLSKey)
}

// WriteTokenFile writes tok to path with mode 0600 and no trailing newline
// (SDKs send the file's bytes as the header value), replacing the file
// atomically so that a reader never sees half a token.
func WriteTokenFile(path, tok string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	f, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("token file: %w", err)
	}
	if _, err := f.WriteString(tok); err != nil {
		f.Close()
		return fmt.Errorf("token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	return nil
}

// readOwnTokenFile reads a token file only if nobody else could have
// written or read it.
func readOwnTokenFile(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by others; not reusing it", path)
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
