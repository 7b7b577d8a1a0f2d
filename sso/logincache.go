package sso

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/private"
)

// LoginCacheDir is where the AWS CLI keeps `aws login` sessions:
// $AWS_LOGIN_CACHE_DIRECTORY (with ~ and $VAR expanded, as the CLI does),
// else ~/.aws/login/cache.
func LoginCacheDir() string {
	if d := os.Getenv("AWS_LOGIN_CACHE_DIRECTORY"); d != "" {
		d = os.ExpandEnv(d)
		if home, err := os.UserHomeDir(); err == nil && (d == "~" || strings.HasPrefix(d, "~/")) {
			d = filepath.Join(home, d[1:])
		}
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".aws", "login", "cache")
	}
	return filepath.Join(home, ".aws", "login", "cache")
}

// loginCacheName is the cache file's name for a login_session: the
// lowercase hex SHA-256 of the ARN (spaces trimmed) and ".json".
func loginCacheName(session string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(session)))
	return hex.EncodeToString(sum[:]) + ".json"
}

// Client ids of the two sign-in flows, as the cache's clientId records them.
const (
	sameDeviceClient  = "arn:aws:signin:::devtools/same-device"
	crossDeviceClient = "arn:aws:signin:::devtools/cross-device"
)

// loginCache is an `aws login` cache file. raw holds every field as read,
// so that a write-back keeps what rolecall does not use (the CLI's
// idToken, fields of newer CLIs); the other fields are what rolecall reads.
type loginCache struct {
	raw    map[string]json.RawMessage
	access map[string]json.RawMessage // the accessToken object, every field

	AccessKeyID, SecretAccessKey, SessionToken, AccountID string
	ExpiresAt                                             time.Time
	ClientID, RefreshToken, IDToken, DPoPKey              string
}

// credentials are the cache's access keys as role credentials of session.
// Their issue time is not in the file: with credentials of the sign-in
// service's fixed lifetime it is that much before their expiry.
func (lc *loginCache) credentials(session string, now time.Time) creds.Credentials {
	return creds.Credentials{
		AccessKeyID: lc.AccessKeyID, SecretAccessKey: lc.SecretAccessKey, SessionToken: lc.SessionToken,
		Expiration: lc.ExpiresAt.UTC(), Issued: earliest(now, lc.ExpiresAt.Add(-signinCredLifetime)),
		RoleARN: session, AccountID: lc.AccountID,
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// signinCredLifetime is the lifetime of the sign-in service's credentials
// (expiresIn, at most 900 s).
const signinCredLifetime = 15 * time.Minute

// errLoginCache: the cache file cannot be used; only a new sign-in helps.
var errLoginCache = errors.New("unusable login cache")

// readLoginCache reads and checks the cache file at path: the fields the
// AWS CLI requires (and the Go SDK: all of accessToken) and a dpopKey that
// is a SEC1 EC key, as the CLI writes it. The error names the file and
// says what to do (profile is the profile to sign in with again).
func readLoginCache(path, profile string) (*loginCache, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, creds.Errorf(creds.LoginCacheMissing, creds.ErrLoginRequired, path, profile, profile)
		}
		return nil, fmt.Errorf("read login cache %s: %w", path, err)
	}
	lc, err := parseLoginCache(b)
	if err != nil {
		return nil, creds.Errorf(creds.LoginCacheBroken, fmt.Errorf("%w: %w", errLoginCache, creds.ErrLoginRequired), path, err.Error(), profile, profile)
	}
	return lc, nil
}

// parseLoginCache parses the cache file's contents.
func parseLoginCache(b []byte) (*loginCache, error) {
	lc := &loginCache{}
	if err := json.Unmarshal(b, &lc.raw); err != nil {
		return nil, fmt.Errorf("not JSON (%v)", err)
	}
	str := func(m map[string]json.RawMessage, k string) string {
		var s string
		if v, ok := m[k]; ok {
			json.Unmarshal(v, &s)
		}
		return s
	}
	if v, ok := lc.raw["accessToken"]; !ok || json.Unmarshal(v, &lc.access) != nil || lc.access == nil {
		return nil, errors.New("no accessToken object")
	}
	lc.AccessKeyID, lc.SecretAccessKey = str(lc.access, "accessKeyId"), str(lc.access, "secretAccessKey")
	lc.SessionToken, lc.AccountID = str(lc.access, "sessionToken"), str(lc.access, "accountId")
	lc.ClientID, lc.RefreshToken = str(lc.raw, "clientId"), str(lc.raw, "refreshToken")
	lc.IDToken, lc.DPoPKey = str(lc.raw, "idToken"), str(lc.raw, "dpopKey")
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"accessToken.accessKeyId", lc.AccessKeyID}, {"accessToken.secretAccessKey", lc.SecretAccessKey},
		{"accessToken.sessionToken", lc.SessionToken}, {"accessToken.expiresAt", str(lc.access, "expiresAt")},
		{"clientId", lc.ClientID}, {"refreshToken", lc.RefreshToken}, {"dpopKey", lc.DPoPKey},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	exp, err := time.Parse(time.RFC3339Nano, str(lc.access, "expiresAt"))
	if err != nil {
		return nil, fmt.Errorf("accessToken.expiresAt %q is not an RFC 3339 time", str(lc.access, "expiresAt"))
	}
	lc.ExpiresAt = exp
	if _, err := parseDPoPKey(lc.DPoPKey); err != nil {
		return nil, err
	}
	return lc, nil
}

// parseDPoPKey reads the cache's dpopKey: a PEM "EC PRIVATE KEY" (SEC1,
// RFC 5915) on P-256, as the AWS CLI writes it.
func parseDPoPKey(s string) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	switch {
	case block == nil:
		return nil, errors.New("dpopKey is not a PEM key")
	case block.Type == "PRIVATE KEY":
		return nil, errors.New("dpopKey is a PKCS#8 key (BEGIN PRIVATE KEY); the AWS CLI writes and reads SEC1 keys (BEGIN EC PRIVATE KEY)")
	case block.Type != "EC PRIVATE KEY":
		return nil, fmt.Errorf("dpopKey is a PEM %q, not an EC PRIVATE KEY", block.Type)
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dpopKey: %v", err)
	}
	if key.Curve.Params().Name != "P-256" {
		return nil, fmt.Errorf("dpopKey is on %s, not P-256", key.Curve.Params().Name)
	}
	return key, nil
}

// encodeDPoPKey writes key as the AWS CLI does: PEM "EC PRIVATE KEY" with
// the public key, 64-character lines, a trailing newline.
func encodeDPoPKey(key *ecdsa.PrivateKey) (string, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("encode the DPoP key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), nil
}

// cliExpiry is how the AWS CLI writes expiresAt.
const cliExpiry = "2006-01-02T15:04:05Z"

// rotated records the sign-in service's answer to a refresh: new keys, a
// new refresh token; every other field stays as read.
func (lc *loginCache) rotated(id, secret, token string, expires time.Time, refresh string) {
	lc.AccessKeyID, lc.SecretAccessKey, lc.SessionToken, lc.ExpiresAt = id, secret, token, expires.UTC().Truncate(time.Second)
	if refresh != "" {
		lc.RefreshToken = refresh
	}
}

// marshal is the file as the AWS CLI writes it, with every field read
// kept (unknown ones too) and rolecall's changes applied.
func (lc *loginCache) marshal() ([]byte, error) {
	access := map[string]json.RawMessage{}
	for k, v := range lc.access {
		access[k] = v
	}
	lc.set(access, "accessKeyId", lc.AccessKeyID)
	lc.set(access, "secretAccessKey", lc.SecretAccessKey)
	lc.set(access, "sessionToken", lc.SessionToken)
	lc.set(access, "accountId", lc.AccountID)
	lc.set(access, "expiresAt", lc.ExpiresAt.UTC().Format(cliExpiry))
	lc.access = access
	lc.set(nil, "accessToken", access)
	lc.set(nil, "refreshToken", lc.RefreshToken)
	lc.set(nil, "clientId", lc.ClientID)
	lc.set(nil, "dpopKey", lc.DPoPKey)
	if _, ok := lc.raw["tokenType"]; !ok {
		lc.set(nil, "tokenType", "aws_sigv4")
	}
	if lc.IDToken != "" {
		lc.set(nil, "idToken", lc.IDToken)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(lc.raw); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// set sets field k of m (the file's top level when nil) to v.
func (lc *loginCache) set(m map[string]json.RawMessage, k string, v any) {
	if m == nil {
		if lc.raw == nil {
			lc.raw = map[string]json.RawMessage{}
		}
		m = lc.raw
	}
	b, _ := json.Marshal(v)
	m[k] = b
}

// writeLoginCache replaces the cache file atomically, readable by the
// current user only: a reader (the AWS CLI, the Go SDK) sees the old file
// or the new one, never half.
func writeLoginCache(path string, lc *loginCache) error {
	b, err := lc.marshal()
	if err != nil {
		return fmt.Errorf("write login cache %s: %w", path, err)
	}
	if err := private.WriteFile(path, b); err != nil {
		return fmt.Errorf("write login cache %s: %w", path, err)
	}
	return nil
}

// idTokenClaims are the claims of the sign-in service's idToken that
// rolecall reads (without verifying it, as the AWS CLI does: it came from
// the service over TLS and only names the session).
type idTokenClaims struct {
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
}

func parseIDToken(tok string) (idTokenClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return idTokenClaims{}, errors.New("idToken is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return idTokenClaims{}, fmt.Errorf("idToken claims: %w", err)
	}
	var c idTokenClaims
	if err := json.Unmarshal(b, &c); err != nil {
		return idTokenClaims{}, fmt.Errorf("idToken claims: %w", err)
	}
	return c, nil
}

// loginSessionLength is how long the sign-in service keeps a session
// renewable after the sign-in ("up to 12 hours").
const loginSessionLength = 12 * time.Hour

// signedInAt is when the session was signed in to: the idToken's iat (the
// sign-in service issues it at the code exchange only, so refreshes keep
// it); zero when the file has no idToken (the Go SDK drops it).
func (lc *loginCache) signedInAt() time.Time {
	if lc.IDToken == "" {
		return time.Time{}
	}
	c, err := parseIDToken(lc.IDToken)
	if err != nil || c.Iat == 0 {
		return time.Time{}
	}
	return time.Unix(c.Iat, 0).UTC()
}
