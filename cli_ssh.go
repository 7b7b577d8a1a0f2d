package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/remote"
	"github.com/rolecall/rolecall/server/control"
)

// sshFlags are rolecall ssh's own flags; every word from the first that
// is not one of them is ssh's.
var sshFlags = map[string]bool{"profile": true, "ttl": true, "remote-port": true, "keep": false}

func (c *cli) ssh(args []string) int {
	fs := c.flags("ssh", "ssh [--profile P] [--ttl D] [--keep] [--remote-port N] DESTINATION [ssh options] [-- COMMAND]",
		"rolecall ssh --profile dev me@devbox -- aws sts get-caller-identity")
	profile := fs.String("profile", "", "the role the remote host gets (default: the default slot's profile)")
	ttl := fs.String("ttl", "", "end the remote's grant after this long (Go duration: 30m, 8h) even while connected")
	keep := fs.Bool("keep", false, "keep the grant when the last session to DESTINATION ends, until --ttl (default 12h)")
	remotePort := fs.Int("remote-port", 0, "the port on the remote loopback (default: a free one sshd picks)")
	ours, theirs := splitSSHArgs(args)
	if rc := c.parse(fs, ours); rc >= 0 {
		return rc
	}
	a, err := remote.ParseArgs(theirs)
	if err != nil {
		return c.usageError(fs, strings.TrimPrefix(err.Error(), remote.ErrUsage.Error()+": "))
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	// The request stays open while ssh runs: the running rolecall holds
	// the grant for as long as it lasts, and revokes it when the last
	// session to the destination ends (this process killed included).
	lease, ended, err := cl.SSH(ctx, control.SSHRequest{Destination: a.Destination, Profile: *profile, TTL: *ttl, Keep: *keep})
	if err != nil {
		return c.fail(err)
	}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		<-ended
		if ctx.Err() == nil {
			fmt.Fprintln(c.stderr, "rolecall:", creds.Say(creds.SSHRolecallStopped, a.Destination))
		}
	}()
	s := &remote.Session{
		Args: a, Endpoint: lease.FullURI, RemotePort: *remotePort, Secret: lease.Secret,
		Stdin: os.Stdin, Stdout: c.stdout, Stderr: c.stderr, Log: slog.New(slog.DiscardHandler),
	}
	code, err := s.Run(ctx)
	cancel()
	<-watched
	var p *creds.Problem
	if errors.As(err, &p) {
		return c.fail(err)
	}
	if err != nil {
		return c.fail(fmt.Errorf("rolecall ssh %s: %w", a.Destination, err))
	}
	return code
}

// splitSSHArgs parts rolecall ssh's arguments: its own flags first (with
// their values), then ssh's.
func splitSSHArgs(args []string) (ours, theirs []string) {
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		takesValue, ok := sshFlags[name]
		switch {
		case args[i] == "-h" || args[i] == "-help" || args[i] == "--help":
			ours = append(ours, args[i])
			continue
		case !strings.HasPrefix(args[i], "-") || !ok:
			return ours, args[i:]
		}
		ours = append(ours, args[i])
		if takesValue && !hasValue && i+1 < len(args) {
			i++
			ours = append(ours, args[i])
		}
	}
	return ours, nil
}
