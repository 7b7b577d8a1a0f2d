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

// runChild runs name with args and env, wired to the given streams, and
// passes on every signal rolecall receives until it ends. It returns the
// child's exit status; a child killed by a signal gives 128 + its number,
// as shells report it.
func runChild(name string, args, env []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, stdin, stdout, stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	<-forwarded
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exitStatus(exit), nil
	}
	return 0, fmt.Errorf("%s: %w", name, err)
}
