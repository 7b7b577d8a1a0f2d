package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/sso"
)

// healthy is a machine with nothing wrong.
func healthy(t *testing.T) doctorEnv {
	dir := t.TempDir()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	return doctorEnv{
		getenv:     func(string) string { return "" },
		configFile: filepath.Join(dir, "config"),
		credsFile:  filepath.Join(dir, "credentials"),
		port:       4144,
		status:     func() (control.Status, error) { return control.Status{URL: "http://127.0.0.1:4144/"}, nil },
		portInUse:  func(int) bool { return true },
		keyring:    func() error { return nil },
		trayHost:   func() error { return nil },
		sessions: func() ([]sso.SessionStatus, error) {
			return []sso.SessionStatus{{Key: "corp", SignedIn: true, Renewable: true, ExpiresAt: now.Add(time.Minute)}}, nil
		},
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
		}, "default profile", "remove the keys"},
		{"[default] with credential_process", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte("[default]\ncredential_process = /bin/echo\n"), 0o600)
		}, "default profile", "credential_process"},
		{"[default] whose credential_process is rolecall", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte("[default]\ncredential_process = /usr/local/bin/rolecall credential-process --profile dev\n"), 0o600)
		}, "", ""},
		{"AWS_PROFILE naming a rolecall credential_process profile", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte("[profile dev-rc]\ncredential_process = rolecall credential-process --profile dev\n"), 0o600)
			e.getenv = env("AWS_PROFILE", "dev-rc")
		}, "", ""},
		{"AWS_PROFILE naming an SSO profile with a rolecall credential_process too", func(e *doctorEnv) {
			os.WriteFile(e.configFile, []byte("[profile dev]\nsso_session = corp\ncredential_process = rolecall credential-process --profile dev\n"), 0o600)
			e.getenv = env("AWS_PROFILE", "dev")
		}, "environment: AWS_PROFILE", "unset AWS_PROFILE"},
		{"not running", func(e *doctorEnv) {
			e.status = func() (control.Status, error) { return control.Status{}, control.ErrNotRunning }
			e.portInUse = func(int) bool { return false }
		}, "rolecall running", "rolecall serve"},
		{"port taken by another program", func(e *doctorEnv) {
			e.status = func() (control.Status, error) { return control.Status{}, control.ErrNotRunning }
		}, "port 4144", "another port"},
		{"no keyring", func(e *doctorEnv) {
			e.keyring = func() error {
				return errors.New("The name org.freedesktop.secrets was not provided by any .service files")
			}
		}, "keyring", "restart"},
		{"no tray host", func(e *doctorEnv) { e.trayHost = func() error { return errors.New("no system tray host") } }, "tray host", "AppIndicator"},
		{"session expired", func(e *doctorEnv) {
			e.sessions = func() ([]sso.SessionStatus, error) { return []sso.SessionStatus{{Key: "corp"}}, nil }
		}, "sso-session corp", "rolecall login --sso-session corp"},
		{"session close to its end", func(e *doctorEnv) {
			e.sessions = func() ([]sso.SessionStatus, error) {
				return []sso.SessionStatus{{Key: "corp", SignedIn: true, ExpiresAt: e.now.Add(20 * time.Minute)}}, nil
			}
		}, "sso-session corp", "before then"},
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
			if len(failed) != 1 || failed[0].Check != tt.check || !strings.Contains(failed[0].Fix+failed[0].Problem, tt.fix) {
				t.Fatalf("failed = %+v, want only %q with a fix mentioning %q", failed, tt.check, tt.fix)
			}
		})
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
