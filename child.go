package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/rolecall/rolecall/server/control"
)

// childEnv is environ for a command run by `rolecall exec`: what
// `rolecall env` would do to a shell (envVars), done to environ.
func childEnv(environ []string, e control.Env) []string {
	unset, set := envVars(e, envOptions{})
	drop := map[string]bool{}
	for _, v := range unset {
		drop[envKey(v)] = true
	}
	for _, kv := range set {
		drop[envKey(kv[0])] = true
	}
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[envKey(k)] {
			out = append(out, kv)
		}
	}
	for _, kv := range set {
		out = append(out, kv[0]+"="+kv[1])
	}
	return out
}

// notStarted is the exit status a shell gives a command that could not be
// started, and why: 127 when there is no such command, 126 when there is
// one but it cannot be run (not executable, a directory, not a program).
func notStarted(name string, err error) (int, error) {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(name); serr == nil && strings.ContainsAny(name, `/\`) {
			// A path to something that is there but is no command (on
			// Windows, a file without a program's extension).
			return 126, fmt.Errorf("%s: cannot run it: not a program", name)
		}
		return 127, fmt.Errorf("%s: command not found", name)
	}
	return 126, fmt.Errorf("%s: cannot run it: %w", name, err)
}
