package sso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/rolecall/rolecall/creds"
)

// DefaultScopes are the registration scopes unless sso_registration_scopes
// says otherwise; sso:account:access is what earns a refresh token.
var DefaultScopes = []string{"sso:account:access"}

// Session is an IAM Identity Center session: an [sso-session NAME] section,
// or the start URL of legacy profiles that carry sso_start_url themselves.
type Session struct {
	// Key identifies the session: the sso-session name, or the start URL
	// of a legacy profile. The AWS CLI's cache file is named after it.
	Key      string
	StartURL string
	Region   string
	Scopes   []string
	// Legacy is set for sessions made from profiles with sso_start_url.
	Legacy bool
}

// Label is the session as people know it.
func (s *Session) Label() string { return s.Key }

// Profile is an AWS config profile rolecall can serve.
type Profile struct {
	Name string
	// Session is the key of the SSO session behind it (for a chain, the
	// session of its source).
	Session string
	// AccountID and RoleName are set on SSO profiles.
	AccountID, RoleName string
	Region              string
	// RoleARN, Source and Duration are set on role_arn + source_profile
	// chains.
	RoleARN, RoleSessionName string
	Source                   string
	Duration                 time.Duration
	ExternalID               string
	// LoginSession is set on profiles of an `aws login` session (the
	// principal's ARN, also their Session); not on chains on top of them.
	LoginSession string
}

// AWSConfig is what rolecall reads of the AWS config file: one pass over
// the file lists its sessions and profiles (enough for menus and for
// checking a name); a profile is resolved through the SDK's own loader only
// when credentials are asked for it (resolve), and then kept with this
// view of the file. An AWSConfig is read-only once made, but for that cache.
type AWSConfig struct {
	Path     string
	Sessions map[string]*Session
	Profiles map[string]*Profile
	// Skipped names profiles that cannot be served and why (static keys,
	// credential_process, ...).
	Skipped map[string]string
	// LoginSessions are the `aws login` sessions the profiles name, by
	// login_session (the principal's ARN).
	LoginSessions map[string]*LoginSession
	// Missing: there is no file at Path.
	Missing bool

	rolesOnce sync.Once
	roles     []Role // profileRoles, sorted once

	// text is the file as read and spans where its sections are: the SDK
	// is handed only the sections of the profile it resolves.
	text  string
	spans map[spanKey][]span

	mu       sync.Mutex
	resolved map[string]*resolvedProfile
}

// resolvedProfile is a profile as the SDK's loader reads it, with the
// source it chains from.
type resolvedProfile struct {
	*Profile
	src *resolvedProfile
}

// ConfigPath is the AWS config file: $AWS_CONFIG_FILE or ~/.aws/config.
func ConfigPath() string {
	if p := os.Getenv("AWS_CONFIG_FILE"); p != "" {
		return p
	}
	return config.DefaultSharedConfigFilename()
}

// LoadAWSConfig reads the AWS config file at path in one pass. A missing
// file is an empty config, marked Missing.
func LoadAWSConfig(ctx context.Context, path string) (*AWSConfig, error) {
	c := &AWSConfig{Path: path, Sessions: map[string]*Session{}, Profiles: map[string]*Profile{}, Skipped: map[string]string{},
		LoginSessions: map[string]*LoginSession{}, resolved: map[string]*resolvedProfile{}}
	text, err := readText(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			c.Missing = true
			return c, nil
		}
		return nil, fmt.Errorf("read AWS config %s: %w", path, err)
	}
	rc := parseSections(text)
	if err := c.classify(rc); err != nil {
		return nil, err
	}
	c.text, c.spans = text, rc.spans
	return c, nil
}

// readText reads a file into a string with one allocation.
func readText(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b strings.Builder
	if st, err := f.Stat(); err == nil {
		b.Grow(int(st.Size()) + 1)
	}
	_, err = io.Copy(&b, f)
	return b.String(), err
}

// resolve loads profile name through the SDK's loader, its source chain
// included and nothing else, once per view of the file.
func (c *AWSConfig) resolve(ctx context.Context, name string) (*resolvedProfile, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.resolved[name]; ok {
		return p, nil
	}
	if err := ctx.Err(); err != nil {
		// Stopping: the resolves queued here are not run one by one.
		return nil, err
	}
	if ls := c.loginSource(name); ls != "" {
		// The SDK's loader refuses a source_profile that holds only
		// login_session ("failed to load assume role"; its
		// hasCredentials does not know the key): such chains are made
		// from rolecall's own reading of the file.
		p := c.ownChain(name, 0)
		if p == nil {
			return nil, fmt.Errorf("profile %s cannot be served: %s", name, c.Skipped[name])
		}
		c.resolved[name] = p
		return p, nil
	}
	// The SDK's loader reads whole files: it gets one holding only the
	// sections this profile needs, where the system can make one in
	// memory, so that its cost does not grow with the other profiles.
	path := c.Path
	if mem, done, ok := memFile(c.chainText(name)); ok {
		defer done()
		path = mem
	}
	sc, err := config.LoadSharedConfigProfile(ctx, name, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{path}
		o.CredentialsFiles = []string{}
	})
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", name, err)
	}
	p, why := c.profile(sc)
	if p == nil {
		return nil, fmt.Errorf("profile %s cannot be served: %s", name, why)
	}
	c.resolved[name] = p
	return p, nil
}

// loginSource is the login session at the root of profile name's chain,
// or "" when it is not one of a login session's chains.
func (c *AWSConfig) loginSource(name string) string {
	p, ok := c.Profiles[name]
	if !ok || p.Source == "" {
		return ""
	}
	if _, ok := c.LoginSessions[p.Session]; ok {
		return p.Session
	}
	return ""
}

// ownChain is profile name and its source chain as rolecall's one pass
// over the file read them.
func (c *AWSConfig) ownChain(name string, depth int) *resolvedProfile {
	p, ok := c.Profiles[name]
	if !ok || depth > maxChain {
		return nil
	}
	rp := &resolvedProfile{Profile: p}
	if p.Source != "" {
		if rp.src = c.ownChain(p.Source, depth+1); rp.src == nil {
			return nil
		}
	}
	return rp
}

// chainText is the text of the sections the SDK needs to resolve name: its
// own, those of its source chain, and their sso-sessions, as in the file.
func (c *AWSConfig) chainText(name string) string {
	var b strings.Builder
	seen := map[spanKey]bool{}
	add := func(k spanKey) {
		if seen[k] {
			return
		}
		seen[k] = true
		for _, sp := range c.spans[k] {
			b.WriteString(c.text[sp.start:sp.end])
			b.WriteByte('\n')
		}
	}
	for range maxChain + 2 {
		if name == "default" {
			add(spanKey{'d', name})
		}
		add(spanKey{'p', name})
		p, ok := c.Profiles[name]
		if !ok {
			break
		}
		if s, ok := c.Sessions[p.Session]; ok && !s.Legacy {
			add(spanKey{'s', p.Session})
		}
		if name = p.Source; name == "" {
			break
		}
	}
	return b.String()
}

// definition is a profile's identity: a digest of the sections that make
// it (its own, its source chain's, their sso-sessions'), so that any edit
// of what it resolves to (account, role, chain, session) gives another.
func (c *AWSConfig) definition(name string) string {
	sum := sha256.Sum256([]byte(c.chainText(name)))
	return hex.EncodeToString(sum[:12])
}

// profile turns the SDK's view of a profile into a servable profile.
func (c *AWSConfig) profile(sc config.SharedConfig) (*resolvedProfile, string) {
	p := &resolvedProfile{Profile: &Profile{Name: sc.Profile, Region: sc.Region}}
	switch {
	case sc.RoleARN != "":
		if sc.Source == nil {
			return nil, "role_arn without source_profile (credential_source is not supported)"
		}
		src, why := c.profile(*sc.Source)
		if src == nil {
			return nil, "source profile " + sc.SourceProfileName + ": " + why
		}
		p.src = src
		p.Session = src.Session
		p.RoleARN, p.RoleSessionName, p.Source, p.ExternalID = sc.RoleARN, sc.RoleSessionName, sc.SourceProfileName, sc.ExternalID
		if sc.RoleDurationSeconds != nil {
			p.Duration = *sc.RoleDurationSeconds
		}
		return p, ""
	case sc.SSOAccountID != "" && sc.SSORoleName != "":
		p.AccountID, p.RoleName = sc.SSOAccountID, sc.SSORoleName
		key := sc.SSOStartURL
		if sc.SSOSession != nil {
			key = sc.SSOSession.Name
		} else if sc.SSOStartURL == "" || sc.SSORegion == "" {
			return nil, "sso_account_id without sso_session or sso_start_url/sso_region"
		}
		if _, ok := c.Sessions[key]; !ok {
			return nil, creds.Say(creds.MissingSessionSection, key, c.Path, key)
		}
		p.Session = key
		return p, ""
	case sc.LoginSession != "":
		arn := strings.TrimSpace(sc.LoginSession)
		if _, ok := c.LoginSessions[arn]; !ok || sc.Region == "" {
			return nil, skipLoginNoRegion
		}
		p.Session, p.LoginSession, p.AccountID = arn, arn, arnAccount(arn)
		return p, ""
	case sc.CredentialProcess != "":
		return nil, skipProcess
	case sc.Credentials.HasKeys():
		return nil, skipStatic
	}
	return nil, skipNoSSO
}

// Why profiles are skipped.
const (
	skipProcess = "credential_process profiles are not served by rolecall"
	skipStatic  = "static keys are not served by rolecall (they would be a long-lived secret in memory)"
	skipNoSSO   = "no SSO settings (sso_session or sso_start_url with sso_account_id and sso_role_name) and no login_session"

	skipLoginNoRegion = "login_session without region: add `region = ...` (the region `aws login` signed in to)"
)

func splitScopes(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// scopes of a session for its registration.
func (s *Session) scopes() []string {
	if len(s.Scopes) > 0 {
		return s.Scopes
	}
	return DefaultScopes
}

// fileStamp tells whether a file changed: a rewrite in place changes the
// size or modification time, an editor's rename changes the inode.
type fileStamp struct {
	exists bool
	size   int64
	mtime  time.Time
	ino    uint64
}

func stampOf(path string) fileStamp {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{exists: true, size: st.Size(), mtime: st.ModTime(), ino: inodeOf(path, st)}
}
