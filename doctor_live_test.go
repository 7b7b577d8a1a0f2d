package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/server/control"
)

// heldSessions is an Identity Center whose one session is signed in in
// the running process's memory (no keyring holds it).
type heldSessions struct{ slowSessions }

func (heldSessions) Status(context.Context) ([]control.SessionInfo, error) {
	return []control.SessionInfo{{Key: "corp", StartURL: "https://corp.awsapps.com/start", SignedIn: true, Renewable: true,
		ExpiresAt: time.Now().Add(8 * time.Hour).UTC().Format(creds.ExpirationFormat)}}, nil
}

// TestDoctorAsksTheRunningRolecall: doctor reports the SSO sessions as the
// running rolecall holds them, not from a keyring of its own (headless,
// over SSH, there is none: the session lives in the process), and checks
// that this shell's URL answers.
func TestDoctorAsksTheRunningRolecall(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "aws-config")
	if err := os.WriteFile(cfg, []byte(ssoConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(dir, "no-bus"))
	e, err := quietEngine(t, 0, filepath.Join(dir, "control.sock"), func(c *engine.Config) {
		c.Sessions = heldSessions{}
	})
	if err != nil {
		t.Fatal(err)
	}
	env := e.Env()
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", env.FullURI)
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", env.Token)
	findings := doctorFindings(t)
	if f := findings["sso-session corp"]; !f.OK {
		t.Errorf("sso-session corp, signed in in the running rolecall: %+v", f)
	}
	if f := findings["environment: AWS_CONTAINER_CREDENTIALS_FULL_URI"]; !f.OK {
		t.Errorf("the running rolecall's own URL: %+v", f)
	}

	// A URL that answers HTTPS (a saved pair on it) to the plain HTTP the
	// shell holds: the SDKs fail there, and so must doctor's check.
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	if err := askEndpoint(strings.Replace(tlsSrv.URL, "https://", "http://", 1)+"/", env.Token); err == nil {
		t.Error("plain HTTP to an HTTPS listener counted as an answer")
	}
	if err := askEndpoint(tlsSrv.URL+"/", env.Token); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("HTTPS with a certificate nobody trusts: %v", err)
	}
}

// doctorFindings runs `rolecall doctor --json` and indexes its findings.
func doctorFindings(t *testing.T) map[string]Finding {
	t.Helper()
	out, errOut, _ := cliRun(t, "doctor", "--json")
	var got struct{ Findings []Finding }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("doctor --json: %v\n%s%s", err, out, errOut)
	}
	m := map[string]Finding{}
	for _, f := range got.Findings {
		m[f.Check] = f
	}
	return m
}
