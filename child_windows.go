package main

import (
	"os"
	"os/exec"
	"strings"
)

// forwardedSignals: a console's Ctrl+C reaches the whole console group,
// the command included; rolecall only keeps it from ending rolecall first.
var forwardedSignals = []os.Signal{os.Interrupt}

// envKey is an environment variable's name as Windows compares it.
func envKey(k string) string { return strings.ToUpper(k) }

func exitStatus(e *exec.ExitError) int { return e.ExitCode() }
