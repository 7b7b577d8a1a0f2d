package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
)

// childEnv is environ for a command run by `rolecall exec`: the variables
// that would win over the container endpoint removed, then the endpoint
// and the token in both forms (some SDKs read only one of them).
func childEnv(environ []string, fullURI, token, tokenFile string) []string {
	drop := map[string]bool{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": true, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": true,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN": true, // no longer in shadowing: `rolecall env` sets it
	}
	for _, v := range shadowing {
		drop[v] = true
	}
	out := make([]string, 0, len(environ)+3)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[envKey(k)] {
			out = append(out, kv)
		}
	}
	return append(out,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI="+fullURI,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN="+token,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="+tokenFile,
	)
}

// notStarted is the exit status a shell gives a command that could not be
// started, and why: 127 when there is no such command, 126 when there is
// one but it cannot be run (not executable, a directory, not a program).
func notStarted(name string, err error) (int, error) {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return 127, fmt.Errorf("%s: command not found", name)
	}
	return 126, fmt.Errorf("%s: cannot run it: %w", name, err)
}
