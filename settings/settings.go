// Package settings reads rolecall's settings file, a small TOML file under
// the user config dir (rolecall/config.toml). Every key is optional; an
// unknown key or a bad value is an error naming its line, and a file that
// cannot be parsed is never overwritten.
package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Settings are the user's choices; Defaults gives the values of a missing
// file.
type Settings struct {
	Port          int             // port = 4144
	Bind          string          // bind = "127.0.0.1"
	RefreshWindow time.Duration   // refresh_window = "20m"
	NotifyBefore  []time.Duration // notify_before = ["15m", "5m"]
	Pinned        []string        // pinned = ["dev", "prod"]
	Favorites     []string        // favorites = ["dev", "Acme Prod/Admin"]
	// SSOSessionDuration is how long Identity Center keeps a session
	// after sign-in (its default is 8h): rolecall warns before it ends.
	SSOSessionDuration time.Duration // sso_session_duration = "8h"
	IMDS               bool          // imds = false
	IMDSv1             bool          // imds_v1 = false
	CLICacheWrite      bool          // cli_cache_writeback = false
	AuditLog           bool          // audit_log = true
	SameUserOnly       bool          // same_user_only = true
	LoginFlow          string        // login_flow = "device" (or "pkce")
	SlotsOnDemand      bool          // slots_on_demand = true
}

// Defaults are the settings of a missing or empty file.
func Defaults() Settings {
	return Settings{
		Port:               4144,
		Bind:               "127.0.0.1",
		RefreshWindow:      20 * time.Minute,
		NotifyBefore:       []time.Duration{15 * time.Minute, 5 * time.Minute},
		SSOSessionDuration: 8 * time.Hour,
		AuditLog:           true,
		SameUserOnly:       true,
		LoginFlow:          "device",
		SlotsOnDemand:      true,
	}
}

// Error is a problem at a line of the settings file.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Path is the settings file's place: $ROLECALL_CONFIG, else
// <user config dir>/rolecall/config.toml.
func Path() (string, error) {
	if p := os.Getenv("ROLECALL_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("settings: %w", err)
	}
	return filepath.Join(dir, "rolecall", "config.toml"), nil
}

// Load reads the file at path; a missing file gives the defaults.
func Load(path string) (Settings, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Defaults(), nil
	}
	if err != nil {
		return Defaults(), fmt.Errorf("settings: %w", err)
	}
	return Parse(path, b)
}

type field struct {
	help string
	set  func(s *Settings, v *unstable.Node) error
}

var fields = map[string]field{
	"port": {"a TCP port from 1 to 65535", func(s *Settings, v *unstable.Node) error {
		n, err := intValue(v)
		if err != nil || n < 1 || n > 65535 {
			return errors.New("port must be a number from 1 to 65535")
		}
		s.Port = int(n)
		return nil
	}},
	"bind": {"an IP address", func(s *Settings, v *unstable.Node) error {
		str, err := stringValue(v)
		if err != nil {
			return err
		}
		if net.ParseIP(str) == nil && !strings.EqualFold(str, "localhost") {
			return fmt.Errorf("bind must be an IP address such as \"127.0.0.1\", got %q", str)
		}
		s.Bind = str
		return nil
	}},
	"refresh_window": {"a duration", func(s *Settings, v *unstable.Node) error {
		d, err := durationValue(v)
		if err != nil {
			return err
		}
		if d < time.Minute || d > 12*time.Hour {
			return fmt.Errorf("refresh_window must be between 1m and 12h, got %s", d)
		}
		s.RefreshWindow = d
		return nil
	}},
	"notify_before": {"a list of durations", func(s *Settings, v *unstable.Node) error {
		if v.Kind != unstable.Array {
			return errors.New(`notify_before must be a list of durations such as ["15m", "5m"]`)
		}
		var out []time.Duration
		for it := v.Children(); it.Next(); {
			d, err := durationValue(it.Node())
			if err != nil {
				return err
			}
			if d <= 0 || d > 24*time.Hour {
				return fmt.Errorf("notify_before: %s is not between 1s and 24h", d)
			}
			out = append(out, d)
		}
		slices.Sort(out)
		slices.Reverse(out)
		s.NotifyBefore = slices.Compact(out)
		return nil
	}},
	"pinned":    namesField("pinned", func(s *Settings) *[]string { return &s.Pinned }),
	"favorites": namesField("favorites", func(s *Settings) *[]string { return &s.Favorites }),
	"sso_session_duration": {"a duration", func(s *Settings, v *unstable.Node) error {
		d, err := durationValue(v)
		if err != nil {
			return err
		}
		if d < 15*time.Minute || d > 90*24*time.Hour {
			return fmt.Errorf("sso_session_duration must be between 15m and 90 days (2160h), got %s", d)
		}
		s.SSOSessionDuration = d
		return nil
	}},
	"imds":                boolField(func(s *Settings) *bool { return &s.IMDS }),
	"imds_v1":             boolField(func(s *Settings) *bool { return &s.IMDSv1 }),
	"cli_cache_writeback": boolField(func(s *Settings) *bool { return &s.CLICacheWrite }),
	"audit_log":           boolField(func(s *Settings) *bool { return &s.AuditLog }),
	"same_user_only":      boolField(func(s *Settings) *bool { return &s.SameUserOnly }),
	"slots_on_demand":     boolField(func(s *Settings) *bool { return &s.SlotsOnDemand }),
	"login_flow": {`"device" or "pkce"`, func(s *Settings, v *unstable.Node) error {
		str, err := stringValue(v)
		if err != nil {
			return err
		}
		if str != "device" && str != "pkce" {
			return fmt.Errorf(`login_flow must be "device" (a code approved in the browser) or "pkce" (the browser comes back to rolecall), got %q`, str)
		}
		s.LoginFlow = str
		return nil
	}},
}

// namesField is a list of distinct profile names.
func namesField(key string, p func(*Settings) *[]string) field {
	return field{"a list of profile names", func(s *Settings, v *unstable.Node) error {
		if v.Kind != unstable.Array {
			return fmt.Errorf(`%s must be a list of profile names such as ["dev", "prod"]`, key)
		}
		var out []string
		for it := v.Children(); it.Next(); {
			str, err := stringValue(it.Node())
			if err != nil {
				return err
			}
			if str == "" {
				return fmt.Errorf("%s: empty profile name", key)
			}
			if !slices.Contains(out, str) {
				out = append(out, str)
			}
		}
		*p(s) = out
		return nil
	}}
}

func boolField(p func(*Settings) *bool) field {
	return field{"true or false", func(s *Settings, v *unstable.Node) error {
		if v.Kind != unstable.Bool {
			return fmt.Errorf("must be true or false, got %s", describe(v))
		}
		*p(s) = string(v.Data) == "true"
		return nil
	}}
}

// Keys lists the known keys, sorted.
func Keys() []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Parse reads settings from data; path only labels errors.
func Parse(path string, data []byte) (Settings, error) {
	s := Defaults()
	p := unstable.Parser{}
	p.Reset(data)
	seen := map[string]bool{}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
		case unstable.Table, unstable.ArrayTable:
			return Defaults(), &Error{path, lineOf(&p, e), "sections are not used in this file: put every key at the top"}
		default:
			continue
		}
		var parts []string
		for it := e.Key(); it.Next(); {
			parts = append(parts, string(it.Node().Data))
		}
		key := strings.Join(parts, ".")
		line := lineOf(&p, e)
		f, ok := fields[key]
		if !ok {
			return Defaults(), &Error{path, line, fmt.Sprintf("unknown key %q (known keys: %s)", key, strings.Join(Keys(), ", "))}
		}
		if seen[key] {
			return Defaults(), &Error{path, line, fmt.Sprintf("key %q is set twice", key)}
		}
		seen[key] = true
		if err := f.set(&s, e.Value()); err != nil {
			return Defaults(), &Error{path, line, fmt.Sprintf("%s: %v", key, err)}
		}
	}
	if err := p.Error(); err != nil {
		line := 0
		var perr *unstable.ParserError
		if errors.As(err, &perr) && len(perr.Highlight) > 0 {
			line = lineAt(data, perr.Highlight)
		}
		return Defaults(), &Error{path, line, "not valid TOML: " + err.Error()}
	}
	return s, nil
}

// lineOf is the 1-based line where an expression's key starts.
func lineOf(p *unstable.Parser, e *unstable.Node) int {
	it := e.Key()
	if it.Next() {
		return lineAt(p.Data(), it.Node().Data)
	}
	return 0
}

// lineAt finds the line of sub, a slice of data (or, for an unescaped copy,
// returns 0).
func lineAt(data, sub []byte) int {
	if len(sub) == 0 || len(data) == 0 {
		return 0
	}
	off := cap(data) - cap(sub)
	if off < 0 || off > len(data) {
		return 0
	}
	return strings.Count(string(data[:off]), "\n") + 1
}

func describe(v *unstable.Node) string {
	return strings.ToLower(v.Kind.String()) + " " + strconv.Quote(string(v.Data))
}

func stringValue(v *unstable.Node) (string, error) {
	if v.Kind != unstable.String {
		return "", fmt.Errorf("must be a quoted string, got %s", describe(v))
	}
	return string(v.Data), nil
}

func intValue(v *unstable.Node) (int64, error) {
	if v.Kind != unstable.Integer {
		return 0, fmt.Errorf("must be a whole number, got %s", describe(v))
	}
	return strconv.ParseInt(string(v.Data), 0, 64)
}

func durationValue(v *unstable.Node) (time.Duration, error) {
	str, err := stringValue(v)
	if err != nil {
		return 0, fmt.Errorf("must be a duration such as \"20m\" or \"1h30m\", got %s", describe(v))
	}
	d, err := time.ParseDuration(str)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"20m\" or \"1h30m\"", str)
	}
	return d, nil
}

// StateDir is where rolecall keeps the token file and the audit log:
// $XDG_STATE_HOME/rolecall (default ~/.local/state/rolecall) on Linux and
// other Unix systems, the user config dir elsewhere (Application Support on
// macOS, %AppData% on Windows).
func StateDir() (string, error) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("state dir: %w", err)
		}
		return filepath.Join(dir, "rolecall"), nil
	}
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "rolecall"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("state dir: %w", err)
	}
	return filepath.Join(home, ".local", "state", "rolecall"), nil
}
