package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/tray"
)

const usage = `rolecall serves AWS credentials for the role you pick to every program on this machine.

Usage:
  rolecall                    start with the tray icon (headless, as serve, when there is no tray)
  rolecall serve [flags]      run in the foreground, log to stderr
  rolecall login [--sso-session NAME] [--no-browser]
  rolecall logout [--sso-session NAME]
  rolecall roles [--json]     every role you can load
  rolecall load --profile P [--slot]
  rolecall load --account ID --role NAME [--slot]
  rolecall unload [--profile P]
  rolecall list [--json]      loaded slots
  rolecall current            the profile in the default slot
  rolecall env [--profile P] [--shell sh|fish|powershell]
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
	stdout io.Writer
	stderr io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{ctx: ctx, stdout: stdout, stderr: stderr}
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
	}
}

// flags returns a FlagSet for a command with its help text.
func (c *cli) flags(name, synopsis, example string) *flag.FlagSet {
	fs := flag.NewFlagSet("rolecall "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: rolecall %s\n\n", synopsis)
		fs.PrintDefaults()
		if example != "" {
			fmt.Fprintf(c.stderr, "\nExample:\n  %s\n", example)
		}
	}
	return fs
}

// parse parses flags; it returns -1 to go on, or the exit status.
func (c *cli) parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
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
func (c *cli) client() (*server.Client, error) {
	path, err := server.SocketPath()
	if err != nil {
		return nil, err
	}
	return server.NewClient(path), nil
}

// call runs f against the running process and maps its errors to one line.
func (c *cli) call(f func(*server.Client) error) int {
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := f(cl); err != nil {
		if errors.Is(err, server.ErrNotRunning) {
			fmt.Fprintln(c.stderr, "rolecall: rolecall is not running: start it with `rolecall` (tray) or `rolecall serve`")
			return exitFail
		}
		return c.fail(err)
	}
	return exitOK
}

// serveFlags are the flags of `rolecall serve` (and of the tray).
type serveFlags struct {
	bind, cert, key string
	port            int
	imds, debug     bool
}

func (c *cli) serveFlagSet(name, synopsis, example string) (*flag.FlagSet, *serveFlags) {
	fs := c.flags(name, synopsis, example)
	f := &serveFlags{}
	fs.StringVar(&f.bind, "bind", "", "address to listen on (default from settings, else 127.0.0.1); a non-loopback address needs TLS")
	fs.IntVar(&f.port, "port", 0, "port to listen on (default from settings, else 4144; 0 here means that default)")
	fs.StringVar(&f.cert, "tls-cert", "", "PEM certificate file: serve HTTPS")
	fs.StringVar(&f.key, "tls-key", "", "PEM private key file for --tls-cert")
	fs.BoolVar(&f.imds, "imds", false, "also serve the EC2 instance metadata (IMDSv2) routes")
	fs.BoolVar(&f.debug, "debug", false, "log debug messages")
	return fs, f
}

func (c *cli) serve(args []string) int {
	fs, f := c.serveFlagSet("serve", "serve [--bind ADDR] [--port N] [--tls-cert FILE --tls-key FILE] [--imds]",
		"rolecall serve --port 4144")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	if f.port < 0 || f.port > 65535 {
		return c.usageError(fs, fmt.Sprintf("--port %d is not a port number (1-65535)", f.port))
	}
	a, err := c.startApp(*f, false)
	if err != nil {
		return c.fail(err)
	}
	<-c.ctx.Done()
	a.log.Info("shutting down")
	a.Close()
	return exitOK
}

// startTray runs rolecall with its tray icon, or headless with a one-line
// notice when there is no tray host.
func (c *cli) startTray() int {
	if err := tray.Available(); err != nil {
		fmt.Fprintf(c.stderr, "rolecall: %v; running headless as `rolecall serve`\n", err)
		return c.serve(nil)
	}
	a, err := c.startApp(serveFlags{}, true)
	if err != nil {
		return c.fail(err)
	}
	go func() {
		<-c.ctx.Done()
		tray.Quit()
	}()
	a.runTray()
	a.Close()
	return exitOK
}

func (c *cli) load(args []string) int {
	fs := c.flags("load", "load --profile P [--slot] | --account ID --role NAME [--slot]",
		"rolecall load --profile dev            # default slot, served at /\n  rolecall load --profile prod --slot     # its own slot, served at /slot/prod")
	var req server.LoadRequest
	fs.StringVar(&req.Profile, "profile", "", "AWS config profile, or a discovered role as \"<account name>/<role name>\"")
	fs.StringVar(&req.AccountID, "account", "", "AWS account id (with --role)")
	fs.StringVar(&req.RoleName, "role", "", "role name (with --account)")
	fs.BoolVar(&req.Slot, "slot", false, "load into a named slot of its own instead of the default slot")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	switch {
	case req.Profile == "" && req.AccountID == "" && req.RoleName == "":
		return c.usageError(fs, "name a profile (--profile) or an account and role (--account, --role)")
	case req.Profile != "" && (req.AccountID != "" || req.RoleName != ""):
		return c.usageError(fs, "--profile and --account/--role exclude each other")
	case req.Profile == "" && (req.AccountID == "" || req.RoleName == ""):
		return c.usageError(fs, "--account and --role go together")
	}
	return c.call(func(cl *server.Client) error {
		s, err := cl.Load(c.ctx, req)
		if err != nil {
			return err
		}
		where := "the default slot"
		if s.Slot != "default" {
			where = "slot " + s.Slot
		}
		fmt.Fprintf(c.stdout, "loaded %s into %s: %s, expires %s\n", s.Profile, where, s.RoleARN, expiresIn(s.Expiration))
		return nil
	})
}

func (c *cli) unload(args []string) int {
	fs := c.flags("unload", "unload [--profile P]", "rolecall unload --profile prod")
	profile := fs.String("profile", "", "the named slot to empty (default: the default slot)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *server.Client) error { return cl.Unload(c.ctx, *profile) })
}

func (c *cli) list(args []string) int {
	fs := c.flags("list", "list [--json]", "rolecall list --json | jq -r '.[].profile'")
	asJSON := fs.Bool("json", false, "print a JSON array (see README for its fields)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *server.Client) error {
		slots, err := cl.Slots(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(slots)
		}
		if len(slots) == 0 {
			fmt.Fprintln(c.stdout, "no slots loaded: rolecall load --profile NAME")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLOT\tPROFILE\tROLE\tEXPIRES\tSTATE")
		for _, s := range slots {
			state := s.State
			if s.Error != "" {
				state += ": " + s.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Slot, s.Profile, s.RoleARN, expiresIn(s.Expiration), state)
		}
		return tw.Flush()
	})
}

func (c *cli) current(args []string) int {
	fs := c.flags("current", "current", "aws --profile \"$(rolecall current)\" ...")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *server.Client) error {
		slots, err := cl.Slots(c.ctx)
		if err != nil {
			return err
		}
		for _, s := range slots {
			if s.Slot == "default" {
				fmt.Fprintln(c.stdout, s.Profile)
				return nil
			}
		}
		return errors.New("no role loaded in the default slot: rolecall load --profile NAME")
	})
}

func (c *cli) env(args []string) int {
	fs := c.flags("env", "env [--profile P] [--shell sh|fish|powershell]", `eval "$(rolecall env)"`)
	profile := fs.String("profile", "", "a named slot (default: the default slot)")
	shell := fs.String("shell", defaultShell(), "output syntax: sh, fish or powershell")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	if *shell != "sh" && *shell != "fish" && *shell != "powershell" {
		return c.usageError(fs, fmt.Sprintf("--shell %q: choose sh, fish or powershell", *shell))
	}
	return c.call(func(cl *server.Client) error {
		e, err := cl.Env(c.ctx, *profile)
		if err != nil {
			return err
		}
		fmt.Fprint(c.stdout, exports(*shell, e))
		return nil
	})
}

// shadowing are variables that win over the container endpoint in the SDK
// credential chains; `rolecall env` clears them.
var shadowing = []string{
	"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
}

// exports writes the environment for a shell.
func exports(shell string, e server.Env) string {
	var b strings.Builder
	switch shell {
	case "fish":
		for _, v := range shadowing {
			fmt.Fprintf(&b, "set -e %s;\n", v)
		}
		fmt.Fprintf(&b, "set -gx AWS_CONTAINER_CREDENTIALS_FULL_URI %s;\n", fishQuote(e.FullURI))
		fmt.Fprintf(&b, "set -gx AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s;\n", fishQuote(e.TokenFile))
	case "powershell":
		for _, v := range shadowing {
			fmt.Fprintf(&b, "Remove-Item Env:%s -ErrorAction SilentlyContinue\n", v)
		}
		fmt.Fprintf(&b, "$Env:AWS_CONTAINER_CREDENTIALS_FULL_URI = %s\n", psQuote(e.FullURI))
		fmt.Fprintf(&b, "$Env:AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = %s\n", psQuote(e.TokenFile))
	default:
		fmt.Fprintf(&b, "unset %s\n", strings.Join(shadowing, " "))
		fmt.Fprintf(&b, "export AWS_CONTAINER_CREDENTIALS_FULL_URI=%s\n", shQuote(e.FullURI))
		fmt.Fprintf(&b, "export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=%s\n", shQuote(e.TokenFile))
	}
	return b.String()
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func defaultShell() string {
	if runtime.GOOS == "windows" {
		return "powershell"
	}
	if filepath.Base(os.Getenv("SHELL")) == "fish" {
		return "fish"
	}
	return "sh"
}

func (c *cli) token(args []string) int {
	fs := c.flags("token", "token [--rotate]",
		"export AWS_CONTAINER_AUTHORIZATION_TOKEN=\"$(rolecall token)\"   # for SDKs without _TOKEN_FILE support")
	rotate := fs.Bool("rotate", false, "replace the token (clients using the token file pick up the new one)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *server.Client) error {
		tok, err := cl.Token(c.ctx, *rotate)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, tok)
		return nil
	})
}

func (c *cli) tls(args []string) int {
	const syn = "tls save --cert FILE --key FILE | tls print | tls delete"
	if len(args) == 0 {
		fmt.Fprintf(c.stderr, "Usage: rolecall %s\n", syn)
		return exitUsage
	}
	switch args[0] {
	case "save":
		fs := c.flags("tls save", "tls save --cert FILE --key FILE", "rolecall tls save --cert rolecall.crt --key rolecall.key")
		certFile := fs.String("cert", "", "PEM certificate (chain) file")
		keyFile := fs.String("key", "", "PEM private key file")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		if *certFile == "" || *keyFile == "" {
			return c.usageError(fs, "both --cert and --key are needed")
		}
		cert, err := os.ReadFile(*certFile)
		if err != nil {
			return c.fail(err)
		}
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			return c.fail(err)
		}
		return c.call(func(cl *server.Client) error {
			p, err := cl.SaveTLS(c.ctx, cert, key)
			if err == nil {
				fmt.Fprintln(c.stdout, "TLS pair", p.Note)
			}
			return err
		})
	case "print":
		fs := c.flags("tls print", "tls print", "rolecall tls print > rolecall-ca.pem")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		return c.call(func(cl *server.Client) error {
			p, err := cl.TLS(c.ctx)
			if err == nil {
				fmt.Fprint(c.stdout, p.Cert)
			}
			return err
		})
	case "delete":
		fs := c.flags("tls delete", "tls delete", "rolecall tls delete")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		return c.call(func(cl *server.Client) error {
			p, err := cl.DeleteTLS(c.ctx)
			if err == nil {
				fmt.Fprintln(c.stdout, "TLS pair", p.Note)
			}
			return err
		})
	}
	fmt.Fprintf(c.stderr, "rolecall tls: unknown action %q\nUsage: rolecall %s\n", args[0], syn)
	return exitUsage
}

func (c *cli) login(args []string) int {
	fs := c.flags("login", "login [--sso-session NAME] [--no-browser]", "rolecall login --sso-session corp")
	var req server.LoginRequest
	fs.StringVar(&req.Session, "sso-session", "", "the [sso-session NAME] of ~/.aws/config (default: the only one)")
	fs.BoolVar(&req.NoBrowser, "no-browser", false, "do not open a browser; print the URL to open elsewhere")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *server.Client) error {
		res, err := cl.Login(c.ctx, req, func(p server.LoginPrompt) {
			if req.NoBrowser {
				fmt.Fprintf(c.stderr, "Open this URL in a browser and approve the request:\n  %s\n", p.VerificationURIComplete)
			} else {
				fmt.Fprintf(c.stderr, "A browser opens to approve the login; if none does, open:\n  %s\n", p.VerificationURIComplete)
			}
			fmt.Fprintf(c.stderr, "Check that it shows the code %s. Waiting for approval...\n", p.UserCode)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "signed in to %s until %s\n", res.Session, expiresIn(res.ExpiresAt))
		return nil
	})
}

func (c *cli) logout(args []string) int {
	fs := c.flags("logout", "logout [--sso-session NAME]", "rolecall logout --sso-session corp")
	session := fs.String("sso-session", "", "the sso-session to end (default: the only one)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *server.Client) error {
		res, err := cl.Logout(c.ctx, *session)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "signed out of %s", res.Session)
		if len(res.Unloaded) > 0 {
			fmt.Fprintf(c.stdout, "; unloaded %s", strings.Join(res.Unloaded, ", "))
		}
		fmt.Fprintln(c.stdout)
		return nil
	})
}

func (c *cli) roles(args []string) int {
	fs := c.flags("roles", "roles [--json]", "rolecall roles --json | jq -r '.roles[].name'")
	asJSON := fs.Bool("json", false, "print JSON (see README for its fields)")
	names := fs.Bool("names", false, "print the names only, one a line (for shell completion)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *server.Client) error {
		r, err := cl.Roles(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(r)
		}
		if *names {
			for _, role := range r.Roles {
				fmt.Fprintln(c.stdout, role.Name)
			}
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tSESSION\tACCOUNT\tROLE")
		for _, role := range r.Roles {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", role.Name, role.Kind, role.Session, role.AccountID, role.RoleName)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, s := range r.NeedLogin {
			fmt.Fprintf(c.stderr, "sso-session %s is not signed in: `rolecall login --sso-session %s` lists its roles too\n", s, s)
		}
		return nil
	})
}

// autostart acts on the system's start-at-login entry directly: it needs
// no running process.
func (c *cli) autostart(args []string) int {
	const syn = "autostart on|off|status"
	if len(args) != 1 {
		fmt.Fprintf(c.stderr, "Usage: rolecall %s\n\nExample:\n  rolecall autostart on\n", syn)
		return exitUsage
	}
	switch args[0] {
	case "on", "off":
		if err := tray.SetAutostart(args[0] == "on", ""); err != nil {
			return c.fail(err)
		}
		fallthrough
	case "status":
		on, err := tray.AutostartEnabled()
		if err != nil {
			return c.fail(err)
		}
		if on {
			fmt.Fprintln(c.stdout, "rolecall starts at login")
		} else {
			fmt.Fprintln(c.stdout, "rolecall does not start at login")
		}
		return exitOK
	}
	fmt.Fprintf(c.stderr, "rolecall autostart: unknown action %q\nUsage: rolecall %s\n", args[0], syn)
	return exitUsage
}

func (c *cli) version(args []string) int {
	fmt.Fprintf(c.stdout, "rolecall %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
	return exitOK
}

// expiresIn shows an expiration as local time and time left.
func expiresIn(exp string) string {
	t, err := time.Parse(server.ExpirationFormat, exp)
	if err != nil {
		return "-"
	}
	left := time.Until(t).Round(time.Minute)
	if left <= 0 {
		return t.Local().Format("15:04") + " (expired)"
	}
	return fmt.Sprintf("%s (in %s)", t.Local().Format("15:04"), strings.TrimSuffix(left.String(), "0s"))
}
