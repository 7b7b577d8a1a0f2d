package sso

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"gopkg.in/ini.v1"

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
}

// AWSConfig is what rolecall reads of the AWS config file.
type AWSConfig struct {
	Path     string
	Sessions map[string]*Session
	Profiles map[string]*Profile
	// Skipped names profiles that cannot be served and why (static keys,
	// credential_process, ...).
	Skipped map[string]string
	// Missing: there is no file at Path.
	Missing bool
}

// ConfigPath is the AWS config file: $AWS_CONFIG_FILE or ~/.aws/config.
func ConfigPath() string {
	if p := os.Getenv("AWS_CONFIG_FILE"); p != "" {
		return p
	}
	return config.DefaultSharedConfigFilename()
}

// LoadAWSConfig reads the AWS config file at path. The INI reader only
// lists sections and reads sso-session keys the SDK does not expose
// (sso_registration_scopes); profiles are loaded by the SDK itself, chains
// included. A missing file is an empty config, marked Missing.
func LoadAWSConfig(ctx context.Context, path string) (*AWSConfig, error) {
	c := &AWSConfig{Path: path, Sessions: map[string]*Session{}, Profiles: map[string]*Profile{}, Skipped: map[string]string{}}
	// Loose: ini reads a missing file as an empty one, so ask first.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		c.Missing = true
		return c, nil
	}
	f, err := ini.LoadSources(ini.LoadOptions{Loose: true, Insensitive: false, AllowPythonMultilineValues: true}, path)
	if err != nil {
		return nil, fmt.Errorf("read AWS config %s: %w", path, err)
	}
	var profiles []string
	sessionOf := map[string]string{} // profile name: its sso_session
	for _, sec := range f.Sections() {
		name := strings.TrimSpace(sec.Name())
		switch {
		case strings.HasPrefix(name, "sso-session "):
			key := strings.TrimSpace(strings.TrimPrefix(name, "sso-session "))
			s := &Session{
				Key:      key,
				StartURL: sec.Key("sso_start_url").String(),
				Region:   sec.Key("sso_region").String(),
				Scopes:   splitScopes(sec.Key("sso_registration_scopes").String()),
			}
			if s.StartURL == "" || s.Region == "" {
				return nil, fmt.Errorf("%s: [sso-session %s] needs sso_start_url and sso_region", path, key)
			}
			c.Sessions[key] = s
		case strings.HasPrefix(name, "profile "), name == "default":
			p := strings.TrimSpace(strings.TrimPrefix(name, "profile "))
			profiles = append(profiles, p)
			sessionOf[p] = strings.TrimSpace(sec.Key("sso_session").String())
		}
	}
	for _, name := range profiles {
		if s := sessionOf[name]; s != "" && c.Sessions[s] == nil {
			// The SDK would say "failed to find SSO session section".
			c.Skipped[name] = creds.Say(creds.MissingSessionSection, s, path, s)
			continue
		}
		sc, err := config.LoadSharedConfigProfile(ctx, name, func(o *config.LoadSharedConfigOptions) {
			o.ConfigFiles = []string{path}
			o.CredentialsFiles = []string{}
		})
		if err != nil {
			c.Skipped[name] = err.Error()
			continue
		}
		p, why := c.profile(sc)
		if p == nil {
			c.Skipped[name] = why
			continue
		}
		c.Profiles[name] = p
	}
	return c, nil
}

// profile turns the SDK's view of a profile into a servable Profile.
func (c *AWSConfig) profile(sc config.SharedConfig) (*Profile, string) {
	p := &Profile{Name: sc.Profile, Region: sc.Region}
	switch {
	case sc.RoleARN != "":
		if sc.Source == nil {
			return nil, "role_arn without source_profile (credential_source is not supported)"
		}
		src, why := c.profile(*sc.Source)
		if src == nil {
			return nil, "source profile " + sc.SourceProfileName + ": " + why
		}
		p.Session = src.Session
		p.RoleARN, p.RoleSessionName, p.Source, p.ExternalID = sc.RoleARN, sc.RoleSessionName, sc.SourceProfileName, sc.ExternalID
		if sc.RoleDurationSeconds != nil {
			p.Duration = *sc.RoleDurationSeconds
		}
		return p, ""
	case sc.SSOAccountID != "" && sc.SSORoleName != "":
		p.AccountID, p.RoleName = sc.SSOAccountID, sc.SSORoleName
		if sc.SSOSession != nil {
			s, ok := c.Sessions[sc.SSOSession.Name]
			if !ok {
				return nil, "sso_session " + sc.SSOSession.Name + " has no [sso-session] section"
			}
			p.Session = s.Key
			return p, ""
		}
		if sc.SSOStartURL == "" || sc.SSORegion == "" {
			return nil, "sso_account_id without sso_session or sso_start_url/sso_region"
		}
		if _, ok := c.Sessions[sc.SSOStartURL]; !ok {
			c.Sessions[sc.SSOStartURL] = &Session{Key: sc.SSOStartURL, StartURL: sc.SSOStartURL, Region: sc.SSORegion, Scopes: nil, Legacy: true}
		}
		p.Session = sc.SSOStartURL
		return p, ""
	case sc.CredentialProcess != "":
		return nil, "credential_process profiles are not served by rolecall"
	case sc.Credentials.HasKeys():
		return nil, "static keys are not served by rolecall (they would be a long-lived secret in memory)"
	}
	return nil, "no SSO settings (sso_session or sso_start_url with sso_account_id and sso_role_name)"
}

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
