package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
)

// runChild runs name with args and env, wired to the given streams, until
// it ends, and returns its exit status (127 or 126 with the reason when it
// could not be started). A console's Ctrl+C reaches the whole console
// group, the command included; rolecall only keeps it from ending rolecall
// first, and passes nothing on.
func runChild(name string, args, env []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return notStarted(name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, stdin, stdout, stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return notStarted(name, err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitCode(), nil
	}
	return 1, fmt.Errorf("%s: %w", name, err)
}

// envKey is an environment variable's name as Windows compares it.
func envKey(k string) string { return strings.ToUpper(k) }
