package sso

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rolecall/rolecall/private"
)

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
	// rolecall does not hold: it is not used, only compared (the same one
	// means the same sign-in). Its sign-in is when the file was written,
	// unless the token is known from before.
	t := &Token{AccessToken: f.AccessToken, ExpiresAt: exp, StartURL: f.StartURL, Region: s.Region, cliRefresh: f.RefreshToken}
	if st, err := os.Stat(path); err == nil {
		t.SignedInAt = st.ModTime().UTC().Truncate(time.Second)
	}
	return t, nil
}

// writeCLICache writes the access token where the AWS CLI looks for it.
// It reads, modifies and writes the file: when it is for the same start
// URL, every field the CLI keeps there (its refresh token, its client
// registration, ...) stays, and only accessToken and expiresAt change.
// rolecall's own refresh token and client secret stay in the keyring. Like
// the CLI's own, the file is readable by the current user only.
func writeCLICache(path string, t *Token) error {
	f := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		if json.Unmarshal(b, &f) != nil || f["startUrl"] != t.StartURL {
			f = map[string]any{} // another session's, or damaged: replaced
		}
	}
	f["startUrl"], f["region"] = t.StartURL, t.Region
	f["accessToken"] = t.AccessToken
	f["expiresAt"] = t.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return private.WriteFile(path, b)
}
