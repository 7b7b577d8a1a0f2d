package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/sso"
)

// healthy is a machine with nothing wrong.
func healthy(t *testing.T) doctorEnv {
	dir := t.TempDir()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	os.WriteFile(filepath.Join(dir, "config"), []byte(ssoConfig), 0o600)
	os.WriteFile(filepath.Join(dir, "token"), []byte(testToken), 0o600)
	return doctorEnv{
		token:      func() (string, error) { return testToken, nil },
		grant:      testGrants(now),
		getenv:     func(string) string { return "" },
		configFile: filepath.Join(dir, "config"),
		credsFile:  filepath.Join(dir, "credentials"),
		port:       4144,
		status:     func() (control.Status, error) { return control.Status{URL: "http://127.0.0.1:4144/"}, nil },
		portInUse:  func(int) bool { return true },
		keyring:    func() error { return nil },
		trayHost:   func() error { return nil },
		sessions: func() ([]control.SessionInfo, error) {
			return []control.SessionInfo{{Key: "corp", SignedIn: true, Renewable: true, ExpiresAt: now.Add(time.Minute).Format(creds.ExpirationFormat)}}, nil
		},
		answers:    func(string, string) error { return nil },
		now:        now,
		expiringIn: time.Hour,
	}
}

func TestDoctor(t *testing.T) {
	tests := []struct {
		name  string
		trap  func(e *doctorEnv)
		check string // the finding that must fail; "" for none
		fix   string
	}{
		{"nothing wrong", func(*doctorEnv) {}, "", ""},
		{"AWS_PROFILE set", func(e *doctorEnv) { e.getenv = env("AWS_PROFILE", "dev") }, "environment: AWS_PROFILE", "unset AWS_PROFILE"},
		{"AWS_ACCESS_KEY_ID set", func(e *doctorEnv) { e.getenv = env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE") }, "environment: AWS_ACCESS_KEY_ID", "unset AWS_ACCESS_KEY_ID"},
		{"RELATIVE_URI set", func(e *doctorEnv) { e.getenv = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds") }, "environment: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "unset"},
		{"[default] with keys", func(e *doctorEnv) {
			os.WriteFile(e.credsFile, []byte("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n"), 0o600)
		}, "default profile", "rename [default]"},
		{"[default] with credential_process", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte(ssoConfig+"[default]\ncredential_process = /bin/echo\n"), 0o600)
		}, "default profile", "credential_process"},
		{"[default] whose credential_process is rolecall", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte(ssoSession+"[default]\ncredential_process = /usr/local/bin/rolecall credential-process --profile dev\n"), 0o600)
		}, "", ""},
		{"AWS_PROFILE naming a rolecall credential_process profile", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte(ssoSession+"[profile dev-rc]\ncredential_process = rolecall credential-process --profile dev\n"), 0o600)
			e.getenv = env("AWS_PROFILE", "dev-rc")
		}, "", ""},
		{"AWS_PROFILE naming an SSO profile with a rolecall credential_process too", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte(ssoSession+"[profile dev]\nsso_session = corp\ncredential_process = rolecall credential-process --profile dev\n"), 0o600)
			e.getenv = env("AWS_PROFILE", "dev")
		}, "environment: AWS_PROFILE", "unset AWS_PROFILE"},
		{"[default] with sso_session", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte(ssoConfig+"[default]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n"), 0o600)
		}, "default profile", "[default] in " + "CONFIG has sso_session"},
		{"[profile default] with role_arn", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte(ssoConfig+"[profile default]\nrole_arn = arn:aws:iam::111122223333:role/x\nsource_profile = dev\n"), 0o600)
		}, "default profile", "has role_arn"},
		{"no AWS config", func(e *doctorEnv) { os.Remove(e.configFile) }, "AWS config", "no AWS config at CONFIG"},
		{"no sso-session", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte("[profile keys]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"), 0o600)
		}, "AWS config", "CONFIG has no [sso-session NAME] section"},
		{"broken config.toml", func(e *doctorEnv) {
			e.settings = errors.New("config.toml:3: unknown key \"prot\"")
		}, "settings", "rolecall does not start while config.toml is broken"},
		{"FULL_URI and token of the running rolecall", func(e *doctorEnv) {
			file := filepath.Join(filepath.Dir(e.configFile), "token")
			e.getenv = func(k string) string {
				return map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:4144/slot/prod",
					"AWS_CONTAINER_AUTHORIZATION_TOKEN": testToken, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": file}[k]
			}
		}, "", ""},
		{"FULL_URI at another port", func(e *doctorEnv) {
			e.getenv = env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:4145/")
		}, "environment: AWS_CONTAINER_CREDENTIALS_FULL_URI", "is http://127.0.0.1:4145/, but rolecall serves http://127.0.0.1:4144/"},
		{"FULL_URI at another host", func(e *doctorEnv) {
			e.getenv = env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://localhost:4144/slot/dev")
		}, "environment: AWS_CONTAINER_CREDENTIALS_FULL_URI", "eval"},
		{"old token in _TOKEN", func(e *doctorEnv) {
			e.getenv = env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "an-old-token-EXAMPLE")
		}, "environment: token", "AWS_CONTAINER_AUTHORIZATION_TOKEN is not the token in force"},
		{"token file of another rolecall", func(e *doctorEnv) {
			e.getenv = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", filepath.Join(filepath.Dir(e.configFile), "config"))
		}, "environment: token", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"},
		{"this shell's grant, active, on its slot", func(e *doctorEnv) {
			e.getenv = envs("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:4144/slot/dev", "AWS_CONTAINER_AUTHORIZATION_TOKEN", grantActive)
		}, "", ""},
		{"this shell's grant, on another slot", func(e *doctorEnv) {
			e.getenv = envs("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:4144/slot/prod", "AWS_CONTAINER_AUTHORIZATION_TOKEN", grantActive)
		}, "environment: grant", `reads only the role of slot "dev"`},
		{"this shell's grant, revoked", func(e *doctorEnv) {
			e.getenv = envs("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:4144/slot/dev", "AWS_CONTAINER_AUTHORIZATION_TOKEN", grantRevoked)
		}, "environment: grant", "rolecall grant add agent --profile dev"},
		{"this shell's container ID, unknown", func(e *doctorEnv) {
			e.getenv = env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:4144/v2/credentials/"+strings.Repeat("A", 43))
		}, "environment: grant", "no grant has this secret"},
		{"not running", func(e *doctorEnv) {
			e.status = func() (control.Status, error) { return control.Status{}, control.ErrNotRunning }
			e.portInUse = func(int) bool { return false }
			e.sessions = func() ([]control.SessionInfo, error) { return nil, control.ErrNotRunning }
		}, "rolecall running", "nothing holds the SSO sessions"},
		{"port taken by another program", func(e *doctorEnv) {
			e.status = func() (control.Status, error) { return control.Status{}, control.ErrNotRunning }
		}, "port 4144", "another port"},
		{"no keyring", func(e *doctorEnv) {
			e.keyring = func() error {
				return errors.New("The name org.freedesktop.secrets was not provided by any .service files")
			}
		}, "keyring", "no usable OS keyring: the SSO session is lost at every restart"},
		{"no keyring: no D-Bus, said in words", func(e *doctorEnv) {
			e.keyring = func() error { return errors.New(`exec: "dbus-launch": executable file not found in $PATH`) }
		}, "keyring", "no D-Bus session bus: start rolecall inside a desktop session"},
		{"FULL_URI that answers HTTPS to a plain HTTP client", func(e *doctorEnv) {
			e.getenv = env("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:4144/")
			e.answers = func(string, string) error {
				return errors.New("the answer is no credential endpoint's (400 Bad Request, text/plain; charset=utf-8): is it HTTPS?")
			}
		}, "environment: AWS_CONTAINER_CREDENTIALS_FULL_URI", "does not answer"},
		{"keyring locked", func(e *doctorEnv) {
			e.keyring = func() error { return fmt.Errorf("%w: failed to unlock correct collection", keyring.ErrLocked) }
		}, "keyring", "gnome-keyring-daemon --unlock"},
		{"no tray host", func(e *doctorEnv) { e.trayHost = func() error { return errors.New("no system tray host") } }, "tray host", "AppIndicator"},
		{"session expired", func(e *doctorEnv) {
			e.sessions = func() ([]control.SessionInfo, error) { return []control.SessionInfo{{Key: "corp"}}, nil }
		}, "sso-session corp", "rolecall login --sso-session corp"},
		{"session close to its end", func(e *doctorEnv) {
			e.sessions = func() ([]control.SessionInfo, error) {
				return []control.SessionInfo{{Key: "corp", SignedIn: true, ExpiresAt: e.now.Add(20 * time.Minute).Format(creds.ExpirationFormat)}}, nil
			}
		}, "sso-session corp", "before then"},
		{"aws login session ended", func(e *doctorEnv) {
			e.sessions = func() ([]control.SessionInfo, error) {
				return []control.SessionInfo{{Key: "arn:aws:iam::111111111111:user/alice", Kind: sso.KindLogin, Label: "alice in 111111111111", Profile: "me"}}, nil
			}
		}, "aws login session alice in 111111111111", "rolecall login --profile me"},
		{"aws login session close to its 12 hours", func(e *doctorEnv) {
			e.sessions = func() ([]control.SessionInfo, error) {
				return []control.SessionInfo{{Key: "arn:aws:iam::111111111111:user/alice", Kind: sso.KindLogin, Label: "alice in 111111111111", Profile: "me",
					SignedIn: true, Renewable: true, ExpiresAt: e.now.Add(14 * time.Minute).Format(creds.ExpirationFormat),
					Ends: e.now.Add(30 * time.Minute).Format(creds.ExpirationFormat)}}, nil
			}
		}, "aws login session alice in 111111111111", "rolecall login --profile me (before then)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := healthy(t)
			tt.trap(&e)
			var failed []Finding
			for _, f := range diagnose(e) {
				if !f.OK {
					failed = append(failed, f)
				}
			}
			if tt.check == "" {
				if len(failed) > 0 {
					t.Fatalf("findings on a healthy machine: %+v", failed)
				}
				return
			}
			// A port taken while rolecall is not running is two findings.
			if len(failed) == 2 && failed[0].Check == "rolecall running" && tt.check != "rolecall running" {
				failed = failed[1:]
			}
			want := strings.ReplaceAll(tt.fix, "CONFIG", e.configFile)
			if len(failed) != 1 || failed[0].Check != tt.check || !strings.Contains(failed[0].Fix+failed[0].Problem, want) {
				t.Fatalf("failed = %+v, want only %q with a fix mentioning %q", failed, tt.check, tt.fix)
			}
		})
	}
}

const testToken = "tok-EXAMPLE-doctor-0123456789"

const ssoSession = "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n\n"

const ssoConfig = ssoSession +
	"[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n\n"

// envs is an environment of key, value pairs.
func envs(kv ...string) func(string) string {
	return func(name string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == name {
				return kv[i+1]
			}
		}
		return ""
	}
}

// The grants testGrants knows: an active one and a revoked one, on dev.
const (
	grantActive  = "grant-active-EXAMPLE-aaaaaaaaaaaaaaaaaaaaaaaa"
	grantRevoked = "grant-revoked-EXAMPLE-aaaaaaaaaaaaaaaaaaaaaaa"
)

// testGrants answers the control channel's grant check as the running
// rolecall would.
func testGrants(now time.Time) func(string) (control.GrantCheck, error) {
	return func(secret string) (control.GrantCheck, error) {
		g := creds.Grant{Name: "agent", Slot: "dev", Created: now.Add(-time.Hour), State: creds.GrantActive}
		switch secret {
		case grantActive:
			return control.GrantCheck{Grant: control.NewGrantInfo(g)}, nil
		case grantRevoked:
			g.Revoked, g.State = now, creds.GrantRevoked
			return control.GrantCheck{Grant: control.NewGrantInfo(g), Problem: creds.GrantAdvice(g, creds.ErrGrantRevoked)}, nil
		}
		return control.GrantCheck{}, &control.APIError{Status: 404, Message: creds.Say(creds.GrantUnknown)}
	}
}

func env(k, v string) func(string) string {
	return func(name string) string {
		if name == k {
			return v
		}
		return ""
	}
}
