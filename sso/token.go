package sso

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc/types"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/settings"
)

// Token is an IAM Identity Center access token and what renews it.
type Token struct {
	AccessToken  string    `json:"accessToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	StartURL     string    `json:"startUrl"`
	Region       string    `json:"region"`
	// Client is the registration that issued it, and so the one that can
	// renew it: the device flow's or PKCE's.
	Client clientKind `json:"client,omitempty"`
}

// registration is an OIDC client registration, reused until shortly before
// it expires.
type registration struct {
	ClientID     string    `json:"clientId"`
	ClientSecret string    `json:"clientSecret"`
	ExpiresAt    time.Time `json:"expiresAt"`
	Scopes       []string  `json:"scopes"`
	StartURL     string    `json:"startUrl"`
	Region       string    `json:"region"`
}

// renewBefore: an access token with less time left is renewed with the
// refresh token before use.
const renewBefore = 15 * time.Minute

// token returns a usable access token for session s, renewing it silently
// when it is close to expiry. Without one it returns an error wrapping
// creds.ErrLoginRequired; it never starts a login.
func (c *Client) token(ctx context.Context, s *Session) (*Token, error) {
	st := c.state(s.Key)
	c.mu.Lock()
	c.loadStoredLocked(s, st)
	t := st.token
	c.mu.Unlock()

	now := c.opts.Now()
	if t != nil && t.ExpiresAt.Sub(now) > renewBefore {
		return t, nil
	}
	if t != nil && t.RefreshToken != "" {
		renewed, err := c.renew(ctx, s, t)
		if err == nil {
			return renewed, nil
		}
		if !errors.Is(err, creds.ErrLoginRequired) && now.Before(t.ExpiresAt) {
			c.log.Warn("sso token renewal failed, using the current token", "session", s.Key, "err", err)
			return t, nil
		}
		if !errors.Is(err, creds.ErrLoginRequired) {
			return nil, err
		}
	}
	if t != nil && now.Before(t.ExpiresAt) {
		return t, nil
	}
	return nil, fmt.Errorf("sso session %s: %w", s.Key, creds.ErrLoginRequired)
}

// loadStoredLocked reads the session's stored token once, the first time
// it is needed. c.mu is held on entry and exit, and released around the
// keyring read, which can take seconds.
func (c *Client) loadStoredLocked(s *Session, st *sessionState) {
	if st.loaded {
		return
	}
	st.loaded = true
	c.mu.Unlock()
	t := c.storedToken(s)
	c.mu.Lock()
	if st.token == nil {
		st.token = t
	}
}

// storedToken reads the token kept in the keyring, else a valid one the
// AWS CLI cached for the same start URL.
func (c *Client) storedToken(s *Session) *Token {
	var t Token
	if c.loadJSON(tokenEntry(s.Key), &t) && t.StartURL == s.StartURL && t.AccessToken != "" {
		return &t
	}
	if t, err := readCLICache(c.cliCachePath(s), s); err == nil {
		if c.opts.Now().Before(t.ExpiresAt) {
			c.log.Info("using the AWS CLI's sso token", "session", s.Key, "expires", t.ExpiresAt.Format(time.RFC3339))
			return t
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		c.log.Debug("AWS CLI sso cache not used", "session", s.Key, "err", err)
	}
	return nil
}

// renew trades the refresh token for a new access token (one renewal at
// a time per session).
func (c *Client) renew(ctx context.Context, s *Session, old *Token) (*Token, error) {
	st := c.state(s.Key)
	st.refreshMu.Lock()
	defer st.refreshMu.Unlock()
	c.mu.Lock()
	cur := st.token
	c.mu.Unlock()
	if cur != nil && cur != old && cur.ExpiresAt.Sub(c.opts.Now()) > renewBefore {
		return cur, nil // renewed meanwhile
	}
	var reg registration
	if !c.loadJSON(old.Client.entry(s.Key), &reg) || reg.ClientID == "" {
		return nil, fmt.Errorf("sso session %s: no client registration to renew with: %w", s.Key, creds.ErrLoginRequired)
	}
	client, err := c.oidc(ctx, s.Region)
	if err != nil {
		return nil, err
	}
	out, err := client.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: aws.String(reg.ClientID), ClientSecret: aws.String(reg.ClientSecret),
		GrantType: aws.String("refresh_token"), RefreshToken: aws.String(old.RefreshToken),
	})
	if err != nil {
		var grant *types.InvalidGrantException
		var client *types.InvalidClientException
		var expired *types.ExpiredTokenException
		if errors.As(err, &grant) || errors.As(err, &client) || errors.As(err, &expired) {
			c.forgetToken(s, old)
			return nil, fmt.Errorf("sso session %s: renewal refused: %w", s.Key, creds.ErrLoginRequired)
		}
		return nil, fmt.Errorf("renew sso token: %w", err)
	}
	t := c.newToken(s, out, old.RefreshToken, old.Client)
	c.log.Info("sso session renewed", "session", s.Key, "expires", t.ExpiresAt.Format(time.RFC3339))
	c.publish(Event{Session: s.Key, Login: true})
	return t, nil
}

// newToken records a token from CreateToken.
func (c *Client) newToken(s *Session, out *ssooidc.CreateTokenOutput, oldRefresh string, k clientKind) *Token {
	t := &Token{
		AccessToken:  aws.ToString(out.AccessToken),
		ExpiresAt:    c.opts.Now().Add(time.Duration(out.ExpiresIn) * time.Second).UTC().Truncate(time.Second),
		RefreshToken: aws.ToString(out.RefreshToken),
		StartURL:     s.StartURL,
		Region:       s.Region,
		Client:       k,
	}
	if t.RefreshToken == "" {
		t.RefreshToken = oldRefresh
	}
	st := c.state(s.Key)
	c.mu.Lock()
	st.token, st.loaded = t, true
	c.mu.Unlock()
	c.saveJSON(tokenEntry(s.Key), t)
	if c.opts.WriteCLICache {
		if err := writeCLICache(c.cliCachePath(s), t); err != nil {
			c.log.Warn("AWS CLI sso cache not written", "err", err)
		}
	}
	return t
}

// forgetToken drops a token that upstream no longer accepts.
func (c *Client) forgetToken(s *Session, t *Token) {
	st := c.state(s.Key)
	c.mu.Lock()
	if st.token == t || t == nil {
		st.token = nil
	}
	st.found = nil
	c.mu.Unlock()
	if err := c.opts.Keyring.Delete(tokenEntry(s.Key)); err != nil {
		c.log.Warn("keyring delete failed", "err", err)
	}
}

// SessionStatus is what is known of a session's login, for menus.
type SessionStatus struct {
	Key       string
	StartURL  string
	SignedIn  bool
	ExpiresAt time.Time // of the access token; renewable when Renewable
	Renewable bool
	LoggingIn bool
	// UserCode is the code of the login waiting for approval, and
	// VerificationURL its approval page.
	UserCode        string
	VerificationURL string
}

// Status reports every session of the AWS config.
func (c *Client) Status(ctx context.Context) ([]SessionStatus, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	var out []SessionStatus
	for _, s := range cfg.Sessions {
		st := c.state(s.Key)
		c.mu.Lock()
		c.loadStoredLocked(s, st)
		ss := SessionStatus{Key: s.Key, StartURL: s.StartURL, LoggingIn: st.flow != nil}
		if st.flow != nil {
			ss.UserCode = st.flow.prompt.UserCode
			ss.VerificationURL = st.flow.prompt.VerificationURIComplete
		}
		if t := st.token; t != nil {
			ss.ExpiresAt, ss.Renewable = t.ExpiresAt, t.RefreshToken != ""
			ss.SignedIn = c.opts.Now().Before(t.ExpiresAt) || ss.Renewable
		}
		c.mu.Unlock()
		out = append(out, ss)
	}
	slices.SortFunc(out, func(a, b SessionStatus) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out, nil
}

// cliCachePath is the AWS CLI's cache file for s: the SHA-1 of the
// sso-session name, or of the start URL for legacy profiles.
func (c *Client) cliCachePath(s *Session) string {
	sum := sha1.Sum([]byte(s.Key))
	return filepath.Join(c.opts.CLICacheDir, hex.EncodeToString(sum[:])+".json")
}

// cliCacheFile is the AWS CLI's token cache format.
type cliCacheFile struct {
	StartURL              string `json:"startUrl"`
	Region                string `json:"region"`
	AccessToken           string `json:"accessToken"`
	ExpiresAt             string `json:"expiresAt"`
	ClientID              string `json:"clientId,omitempty"`
	ClientSecret          string `json:"clientSecret,omitempty"`
	RegistrationExpiresAt string `json:"registrationExpiresAt,omitempty"`
	RefreshToken          string `json:"refreshToken,omitempty"`
}

// cliTime parses the AWS CLI's times: RFC 3339, or the "...UTC" form older
// CLIs wrote.
func cliTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05UTC", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable time %q", s)
}

func readCLICache(path string, s *Session) (*Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f cliCacheFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.StartURL != s.StartURL || (f.Region != "" && f.Region != s.Region) || f.AccessToken == "" {
		return nil, fmt.Errorf("%s is for another start URL or region", path)
	}
	exp, err := cliTime(f.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// The CLI's refresh token belongs to the CLI's registration, which
	// rolecall does not hold: it is not used.
	return &Token{AccessToken: f.AccessToken, ExpiresAt: exp, StartURL: f.StartURL, Region: s.Region}, nil
}

// writeCLICache writes the access token where the AWS CLI looks for it. The
// refresh token and the client secret stay in the keyring: the CLI can use
// the token until it expires, and nothing that outlives it is put in a
// plain file. Like the CLI's own, the file is readable by the current user
// only.
func writeCLICache(path string, t *Token) error {
	f := cliCacheFile{
		StartURL: t.StartURL, Region: t.Region, AccessToken: t.AccessToken,
		ExpiresAt: t.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"),
	}
	b, _ := json.Marshal(f)
	return settings.WritePrivateFile(path, b)
}
