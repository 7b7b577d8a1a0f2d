//go:build !windows

package main

import (
	"io"
	"os/exec"
	"syscall"
)

// runChild replaces rolecall with the command (execve), so that it is the
// process the terminal, a supervisor or a script signals: a Ctrl-C that
// the terminal sends to its foreground group reaches it once (a parent
// that also forwarded it would deliver it twice: Terraform aborts at the
// second), and its exit status is the one its parent sees. It returns
// only when the command could not be started: 127 when there is no such
// command, 126 when it cannot be run. The streams are the process's own.
func runChild(name string, args, env []string, _ io.Reader, _, _ io.Writer) (int, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return notStarted(name, err)
	}
	return notStarted(name, syscall.Exec(path, append([]string{name}, args...), env))
}

// envKey is an environment variable's name as the OS compares it.
func envKey(k string) string { return k }
