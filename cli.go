package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
)

const usage = `rolecall serves AWS credentials for the role you pick to every program on this machine.

Usage:
  rolecall                    start with the tray icon (headless, as serve, when there is no tray)
  rolecall serve [flags]      run in the foreground, log to stderr
  rolecall login [--sso-session NAME | --profile P [--region R]] [--no-browser] [--pkce]
  rolecall logout [--sso-session NAME]
  rolecall roles [--json]     every role you can load
  rolecall load --profile P [--slot]
  rolecall load --account ID --role NAME [--slot]
  rolecall unload [--profile P]
  rolecall list [--json]      loaded slots
  rolecall current            the profile in the default slot
  rolecall stop               stop the running rolecall
  rolecall env [--profile P] [--shell sh|fish|powershell] [--imds] [--token-file-only]
  rolecall exec [--profile P] -- COMMAND [ARGS...]
                              run COMMAND with P's credentials (its slot loaded if needed)
  rolecall credential-process --profile P
                              credential_process output for a profile in ~/.aws/config
  rolecall console [--profile P] [--print]
                              open the AWS console signed in as the role
  rolecall grant add NAME --profile P [--ttl D] [--container] [--shell sh|fish|powershell | --format docker]
                              a credential for one consumer (a script, an IDE run, an agent, a container)
                              that reads one role; prints its lines
  rolecall grant list [--json] | grant revoke NAME
  rolecall ssh [--profile P] [--ttl D] [--keep] [--remote-port N] DESTINATION [ssh options] [-- COMMAND]
                              ssh to a remote host that gets P's role from here while you are connected
  rolecall containers on [--interface NAME]... [--port N] | off | status
                              (root) containers reach rolecall at http://169.254.170.2, as ECS tasks
  rolecall token [--rotate]   print (or rotate) the bearer token
  rolecall tls save --cert FILE --key FILE | print | delete
  rolecall autostart on|off|status
  rolecall doctor [--json]    find what would stop an SDK from using rolecall
  rolecall completion bash|zsh|fish|powershell
  rolecall version

Run "rolecall COMMAND -h" for a command's flags and an example.
`

// exit statuses
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// cli carries what every command needs.
type cli struct {
	ctx    context.Context
	stdin  io.Reader // what a person types (the code of a cross-device sign-in)
	stdout io.Writer
	stderr io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdin: os.Stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		return c.startTray()
	}
	cmds := c.commands()
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "--version":
		return c.version(nil)
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rolecall: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return cmd(args[1:])
}

// commands maps every verb to its function.
func (c *cli) commands() map[string]func([]string) int {
	return map[string]func([]string) int{
		"serve":      c.serve,
		"load":       c.load,
		"unload":     c.unload,
		"list":       c.list,
		"current":    c.current,
		"env":        c.env,
		"token":      c.token,
		"tls":        c.tls,
		"version":    c.version,
		"login":      c.login,
		"logout":     c.logout,
		"roles":      c.roles,
		"autostart":  c.autostart,
		"doctor":     c.doctor,
		"completion": c.completion,
		"exec":       c.exec,
		"console":    c.console,
		"stop":       c.stop,
		"grant":      c.grant,
		"containers": c.containersVerb,
		"ssh":        c.ssh,

		"credential-process": c.credentialProcess,
	}
}

// flags returns a FlagSet for a command with its help text.
func (c *cli) flags(name, synopsis, example string) *flag.FlagSet {
	fs := flag.NewFlagSet("rolecall "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: rolecall %s\n\n", synopsis)
		fs.PrintDefaults()
		if example != "" {
			fmt.Fprintf(w, "\nExample:\n  %s\n", example)
		}
	}
	return fs
}

// wantsHelp: the arguments ask for help (before any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// actionVerb handles the verbs whose first argument is an action (tls,
// autostart, completion): no action is a usage error, -h is help.
func (c *cli) actionVerb(args []string, synopsis, example string) (rc int, done bool) {
	w, rc := c.stderr, exitUsage
	switch {
	case len(args) > 0 && wantsHelp(args[:1]):
		w, rc = c.stdout, exitOK
	case len(args) > 0:
		return 0, false
	}
	fmt.Fprintf(w, "Usage: rolecall %s\n\nExample:\n  %s\n", synopsis, example)
	return rc, true
}

// parse parses flags; it returns -1 to go on, or the exit status. Asked
// for, help goes to stdout and exits 0.
func (c *cli) parse(fs *flag.FlagSet, args []string) int {
	if rc := c.parseFlags(fs, args); rc >= 0 {
		return rc
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	return -1
}

// parseFlags parses flags and leaves the arguments after them to the verb
// (exec's command); help goes to stdout. It returns -1 to go on, or the
// exit status.
func (c *cli) parseFlags(fs *flag.FlagSet, args []string) int {
	if wantsHelp(args) {
		fs.SetOutput(c.stdout)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	return -1
}

// printJSON writes v as indented JSON, the stable --json output.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) fail(err error) int {
	fmt.Fprintln(c.stderr, "rolecall:", err)
	return exitFail
}

func (c *cli) usageError(fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(c.stderr, "%s: %s\n", fs.Name(), msg)
	fs.Usage()
	return exitUsage
}

// client connects to the running process; a missing one is reported in
// one line with how to start it.
func (c *cli) client() (*control.Client, error) {
	path, err := control.SocketPath()
	if err != nil {
		return nil, err
	}
	return control.NewClient(path), nil
}

// call runs f against the running process and maps its errors to one line.
func (c *cli) call(f func(*control.Client) error) int {
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := f(cl); err != nil {
		if errors.Is(err, control.ErrNotRunning) {
			fmt.Fprintln(c.stderr, "rolecall:", creds.Say(creds.NotRunning))
			return exitFail
		}
		return c.fail(err)
	}
	return exitOK
}
