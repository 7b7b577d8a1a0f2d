//go:build !windows

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// forwardedSignals are passed on to the command of `rolecall exec`.
var forwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH,
}

// envKey is an environment variable's name as the OS compares it.
func envKey(k string) string { return k }

func exitStatus(e *exec.ExitError) int {
	if ws, ok := e.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return e.ExitCode()
}
