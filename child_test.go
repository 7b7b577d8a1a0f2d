package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/rolecall/rolecall/server/control"
)

func TestChildEnv(t *testing.T) {
	in := []string{
		"PATH=/usr/bin", "HOME=/home/alice", "AWS_REGION=eu-west-1",
		"AWS_PROFILE=prod", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN=x", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN=old",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9/old", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/old",
	}
	e := control.Env{FullURI: "http://127.0.0.1:4144/slot/dev", Token: "tok", TokenFile: "/state/token"}
	got := childEnv(in, e)
	want := []string{
		"PATH=/usr/bin", "HOME=/home/alice", "AWS_REGION=eu-west-1",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:4144/slot/dev",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=tok",
	}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv =\n%q\nwant\n%q", got, want)
	}
	// The slot's region wins over the shell's: it travels with the role.
	e.Region = "ap-southeast-2"
	got = childEnv(in, e)
	want = []string{
		"PATH=/usr/bin", "HOME=/home/alice",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:4144/slot/dev",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=tok",
		"AWS_REGION=ap-southeast-2", "AWS_DEFAULT_REGION=ap-southeast-2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv with a region =\n%q\nwant\n%q", got, want)
	}
}

// TestRunChildNotStarted: a command that cannot be started exits as a
// shell would say it: 127 when there is no such command, 126 when there
// is one that cannot be run (not executable, a directory, not a program).
func TestRunChildNotStarted(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "not-executable")
	garbage := filepath.Join(dir, "not-a-program")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbage, []byte{0, 1, 2, 3}, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := map[string]int{
		"no-such-command-rolecall":    127,
		filepath.Join(dir, "missing"): 127,
		plain:                         126,
		dir:                           126,
	}
	if runtime.GOOS != "windows" {
		tests[garbage] = 126 // execve's ENOEXEC: rolecall is still there to say so
	}
	for name, want := range tests {
		rc, err := runChild(name, nil, nil, nil, io.Discard, io.Discard)
		if rc != want || err == nil {
			t.Errorf("%s: exit %d (%v), want %d with the reason", filepath.Base(name), rc, err, want)
		}
	}
}
