package settings

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	full := `# rolecall settings
port = 4200
bind = "127.0.0.2"
refresh_window = "30m"
notify_before = ["5m", "15m", "5m"]
pinned = ["dev", "Acme Corp/Admin", "dev"]
favorites = ["Acme Corp/Admin", "dev"]
sso_session_duration = "12h"
imds = true
imds_v1 = true
cli_cache_writeback = true
audit_log = false
same_user_only = false
login_flow = "pkce"
slots_on_demand = false
`
	want := Settings{
		Port: 4200, Bind: "127.0.0.2", RefreshWindow: 30 * time.Minute,
		NotifyBefore: []time.Duration{15 * time.Minute, 5 * time.Minute},
		Pinned:       []string{"dev", "Acme Corp/Admin"},
		Favorites:    []string{"Acme Corp/Admin", "dev"}, SSOSessionDuration: 12 * time.Hour,
		IMDS: true, IMDSv1: true, CLICacheWrite: true, AuditLog: false, SameUserOnly: false,
		LoginFlow: "pkce", SlotsOnDemand: false,
	}
	got, err := Parse("config.toml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	got, err = Parse("config.toml", nil)
	if err != nil || !reflect.DeepEqual(got, Defaults()) {
		t.Errorf("empty file: %+v, %v", got, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		want     string
	}{
		{"unknown key", "port = 1\n\nprot = 2\n", 3, `unknown key "prot"`},
		{"dotted unknown key", "imds.v1 = true\n", 1, `unknown key "imds.v1"`},
		{"port out of range", "port = 70000\n", 1, "port must be a number from 1 to 65535"},
		{"port as string", "port = \"4144\"\n", 1, "port must be"},
		{"bad bind", "\nbind = \"example.com\"\n", 2, "bind must be an IP address"},
		{"bad duration", "refresh_window = \"soon\"\n", 1, "is not a duration"},
		{"window too small", "refresh_window = \"10s\"\n", 1, "between 1m and 12h"},
		{"bool as string", "imds = \"yes\"\n", 1, "must be true or false"},
		{"pinned not list", "pinned = \"dev\"\n", 1, "pinned must be a list"},
		{"pinned number", "pinned = [1]\n", 1, "must be a quoted string"},
		{"favorites not list", "favorites = \"dev\"\n", 1, "favorites must be a list"},
		{"favorites empty name", "favorites = [\"\"]\n", 1, "favorites: empty profile name"},
		{"session duration too short", "sso_session_duration = \"5m\"\n", 1, "between 15m and 90 days"},
		{"twice", "port = 1\nport = 2\n", 2, "set twice"},
		{"unknown login flow", "login_flow = \"browser\"\n", 1, `login_flow must be "device"`},
		{"section", "port = 1\n[server]\nbind = \"::1\"\n", 2, "sections are not used"},
		{"syntax", "port = 1\nbind = \n", 2, "not valid TOML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("config.toml", []byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Line != tt.line || !strings.Contains(e.Msg, tt.want) {
				t.Errorf("got %q (line %d), want line %d containing %q", err, e.Line, tt.line, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "config.toml:") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestLoadMissingFileGivesDefaults(t *testing.T) {
	s, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err != nil || !reflect.DeepEqual(s, Defaults()) {
		t.Fatalf("Load missing = %+v, %v", s, err)
	}
}

func TestLoadNeverRewritesBrokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.toml")
	broken := []byte("pinned = [\"dev\"\nport = 1\n")
	os.WriteFile(p, broken, 0o600)
	if _, err := Load(p); err == nil {
		t.Fatal("broken file parsed")
	}
	if b, _ := os.ReadFile(p); string(b) != string(broken) {
		t.Fatal("broken file changed")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("port = 4144\nbind = \"127.0.0.1\"\npinned = [\"a\"]\n"))
	f.Add([]byte("notify_before = [\"1m\"]\nimds = true\n"))
	f.Add([]byte("[x]\ny = 1"))
	f.Add([]byte("a.b.c = 'x'"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T", err)
			}
			if !reflect.DeepEqual(s, Defaults()) {
				t.Fatal("a failed parse returned non-default settings")
			}
			return
		}
		if s.Port < 1 || s.Port > 65535 || s.RefreshWindow < time.Minute {
			t.Fatalf("accepted out-of-range settings %+v", s)
		}
	})
}
