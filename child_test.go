package main

import (
	"bytes"
	"runtime"
	"slices"
	"testing"
)

func TestChildEnv(t *testing.T) {
	in := []string{
		"PATH=/usr/bin", "HOME=/home/alice", "AWS_REGION=eu-west-1",
		"AWS_PROFILE=prod", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN=x", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN=old",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9/old", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/old",
	}
	got := childEnv(in, "http://127.0.0.1:4144/slot/dev", "tok", "/state/token")
	want := []string{
		"PATH=/usr/bin", "HOME=/home/alice", "AWS_REGION=eu-west-1",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:4144/slot/dev",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=tok",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/state/token",
	}
	if !slices.Equal(got, want) {
		t.Errorf("childEnv =\n%q\nwant\n%q", got, want)
	}
}

func TestRunChildExitStatus(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	var out bytes.Buffer
	rc, err := runChild("sh", []string{"-c", `echo "$AWS_CONTAINER_AUTHORIZATION_TOKEN"; exit 3`}, []string{"AWS_CONTAINER_AUTHORIZATION_TOKEN=tok"}, nil, &out, &out)
	if err != nil || rc != 3 || out.String() != "tok\n" {
		t.Errorf("exit 3: rc %d, err %v, output %q", rc, err, out.String())
	}
	if rc, err := runChild("sh", []string{"-c", "kill -TERM $$"}, nil, nil, &out, &out); err != nil || rc != 128+15 {
		t.Errorf("killed by SIGTERM: rc %d, err %v, want 143", rc, err)
	}
	if _, err := runChild("no-such-command-rolecall", nil, nil, nil, &out, &out); err == nil {
		t.Error("a missing command is no error")
	}
}
