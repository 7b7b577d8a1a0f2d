package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/rolecall/rolecall/containers"
	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

const grantSynopsis = "grant add NAME --profile P [--ttl D] [--container] [--shell sh|fish|powershell | --format docker] | grant list [--json] | grant revoke NAME"

// grant is `rolecall grant add|list|revoke`.
func (c *cli) grant(args []string) int {
	if rc, done := c.actionVerb(args, grantSynopsis, `eval "$(rolecall grant add my-agent --profile dev --ttl 8h)"`); done {
		return rc
	}
	switch args[0] {
	case "add":
		return c.grantAdd(args[1:])
	case "list":
		return c.grantList(args[1:])
	case "revoke":
		return c.grantRevoke(args[1:])
	}
	fmt.Fprintf(c.stderr, "rolecall grant: unknown action %q: use add, list or revoke\n", args[0])
	return exitUsage
}

// parseNamed parses flags around one NAME argument, so that both
// `grant add NAME --profile P` and `grant add --profile P NAME` parse
// (the flag package stops at the first argument that is not a flag). It
// returns the name ("" when none or more than one was given) and -1 to go
// on, or the exit status.
func (c *cli) parseNamed(fs *flag.FlagSet, args []string) (string, int) {
	if rc := c.parseFlags(fs, args); rc >= 0 {
		return "", rc
	}
	if fs.NArg() == 0 {
		return "", -1
	}
	name := fs.Arg(0)
	if rc := c.parseFlags(fs, fs.Args()[1:]); rc >= 0 {
		return "", rc
	}
	if fs.NArg() > 0 {
		return "", -1
	}
	return name, -1
}

func (c *cli) grantAdd(args []string) int {
	fs := c.flags("grant add", "grant add NAME --profile P [--ttl D] [--container] [--shell sh|fish|powershell | --format docker]",
		`eval "$(rolecall grant add my-agent --profile dev --ttl 8h)"`)
	profile := fs.String("profile", "", "the role the grant reads (a name that rolecall roles lists)")
	ttl := fs.String("ttl", "", "how long the grant lasts, such as 30m or 8h (default: until revoked)")
	container := fs.Bool("container", false, "print the docker run flags and a devcontainer.json snippet (containers reach http://169.254.170.2 after: sudo rolecall containers on)")
	shell := fs.String("shell", defaultShell(), "output syntax: sh, fish or powershell")
	format := fs.String("format", "", "docker: an env file for docker run --env-file")
	name, rc := c.parseNamed(fs, args)
	if rc >= 0 {
		return rc
	}
	switch {
	case name == "":
		return c.usageError(fs, "name the consumer the grant is for: rolecall grant add NAME --profile P")
	case *profile == "":
		return c.usageError(fs, "name the role the grant reads: --profile P (`rolecall roles` lists them)")
	case *shell != "sh" && *shell != "fish" && *shell != "powershell":
		return c.usageError(fs, fmt.Sprintf("--shell %q: choose sh, fish or powershell", *shell))
	case *format != "" && *format != "docker":
		return c.usageError(fs, fmt.Sprintf("--format %q: the one format is docker", *format))
	}
	return c.call(func(cl *control.Client) error {
		a, err := cl.AddGrant(c.ctx, control.GrantRequest{Name: name, Profile: *profile, TTL: *ttl})
		if err != nil {
			return err
		}
		until := "until revoked"
		if a.Grant.Expires != "" {
			until = "until " + a.Grant.Expires
		}
		fmt.Fprintf(c.stderr, "grant %s reads %s %s; its secret is shown this once (`rolecall grant revoke %s` ends it)\n",
			a.Grant.Name, a.Grant.Profile, until, a.Grant.Name)
		switch {
		case *format == "docker":
			fmt.Fprint(c.stdout, dockerEnvFile(a))
			fmt.Fprintf(c.stderr, "keep it in a file only you read: (umask 077; rolecall grant add ... --format docker > %s.env), then docker run --env-file %[1]s.env IMAGE\n", a.Grant.Name)
		case *container:
			fmt.Fprint(c.stdout, containerLines(*shell, a))
		default:
			unset, set := grantVars(a)
			fmt.Fprint(c.stdout, shellLines(*shell, unset, set))
		}
		return nil
	})
}

// grantVars are a grant's variables for a terminal or an IDE: the slot's
// URL, the grant's secret as the token and the role's region. The token file (the user's own
// token, which SDKs prefer to _TOKEN) and what would win over the
// endpoint are unset.
func grantVars(a control.GrantAdded) (unset []string, set [][2]string) {
	unset = append(append(unset, shadowing...), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	return unset, append([][2]string{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", a.FullURI}, {"AWS_CONTAINER_AUTHORIZATION_TOKEN", a.Secret}},
		regionVars(a.Region)...)
}

// dockerEnvFile is the grant as an env file: the ECS agent's relative URI,
// which every SDK resolves against http://169.254.170.2.
func dockerEnvFile(a control.GrantAdded) string {
	s := "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=" + a.RelativeURI + "\n"
	for _, kv := range regionVars(a.Region) {
		s += kv[0] + "=" + kv[1] + "\n"
	}
	return s
}

// containerLines set the relative URI in this shell and show, as
// comments, how docker run and a dev container pass it on by name: the ID
// never appears on a command line or in a file of the project.
func containerLines(shell string, a control.GrantAdded) string {
	var b strings.Builder
	b.WriteString(shellLines(shell, nil, [][2]string{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", a.RelativeURI}}))
	fmt.Fprintf(&b, "# once per boot, as root: sudo rolecall containers on   (Docker's bridge; --interface NAME for others)\n")
	fmt.Fprintf(&b, "# docker run: pass the variable by name, its value stays off the command line:\n")
	fmt.Fprintf(&b, "#   docker run -e AWS_CONTAINER_CREDENTIALS_RELATIVE_URI IMAGE\n")
	fmt.Fprintf(&b, "# devcontainer.json (the editor started from this shell):\n")
	fmt.Fprintf(&b, "#   \"containerEnv\": {\"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI\": \"${localEnv:AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}\"}\n")
	return b.String()
}

// shellLines writes variables to unset and to set for a shell.
func shellLines(shell string, unset []string, set [][2]string) string {
	var b strings.Builder
	switch shell {
	case "fish":
		for _, v := range unset {
			fmt.Fprintf(&b, "set -e %s;\n", v)
		}
		for _, kv := range set {
			fmt.Fprintf(&b, "set -gx %s %s;\n", kv[0], fishQuote(kv[1]))
		}
	case "powershell":
		for _, v := range unset {
			fmt.Fprintf(&b, "Remove-Item Env:%s -ErrorAction SilentlyContinue\n", v)
		}
		for _, kv := range set {
			fmt.Fprintf(&b, "$Env:%s = %s\n", kv[0], psQuote(kv[1]))
		}
	default:
		if len(unset) > 0 {
			fmt.Fprintf(&b, "unset %s\n", strings.Join(unset, " "))
		}
		for _, kv := range set {
			fmt.Fprintf(&b, "export %s=%s\n", kv[0], shQuote(kv[1]))
		}
	}
	return b.String()
}

func (c *cli) grantList(args []string) int {
	fs := c.flags("grant list", "grant list [--json]", "rolecall grant list")
	asJSON := fs.Bool("json", false, "print a JSON array (see README for its fields)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *control.Client) error {
		list, err := cl.Grants(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(list)
		}
		if len(list) == 0 {
			fmt.Fprintln(c.stdout, "no grants: rolecall grant add NAME --profile P")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPROFILE\tSTATE\tCREATED\tEXPIRES\tLAST USE\tUSES\tFROM")
		for _, g := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", g.Name, g.Profile, g.State, orDash(g.Created),
				orDash(g.Expires), orDash(g.LastUsed), g.Uses, orDash(g.From))
		}
		return tw.Flush()
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) grantRevoke(args []string) int {
	fs := c.flags("grant revoke", "grant revoke NAME", "rolecall grant revoke my-agent")
	name, rc := c.parseNamed(fs, args)
	if rc >= 0 {
		return rc
	}
	if name == "" {
		return c.usageError(fs, "name the grant to revoke (rolecall grant list shows them)")
	}
	return c.call(func(cl *control.Client) error {
		g, err := cl.RevokeGrant(c.ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "grant %s revoked: its next request is refused\n", g.Name)
		return nil
	})
}

const containersSynopsis = "containers on [--interface NAME]... [--port N] | containers off | containers status"

// containersVerb is `rolecall containers on|off|status`: the host set-up
// through which containers reach rolecall at http://169.254.170.2, as ECS
// tasks reach the agent. It needs root and talks to no running rolecall.
func (c *cli) containersVerb(args []string) int {
	if rc, done := c.actionVerb(args, containersSynopsis, "sudo rolecall containers on"); done {
		return rc
	}
	switch args[0] {
	case "on":
		fs := c.flags("containers on", "containers on [--interface NAME]... [--port N]", "sudo rolecall containers on --interface docker0 --interface br-dev")
		var ifaces stringList
		fs.Var(&ifaces, "interface", "an interface containers' packets arrive on (repeat it; default: docker0)")
		port := fs.Int("port", settings.Defaults().Port, "rolecall's loopback port (the port setting)")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		names, err := containers.Interfaces(ifaces)
		if err != nil {
			if len(ifaces) == 0 {
				return c.fail(creds.Errorf(creds.HostSetupNoIface, err))
			}
			return c.fail(creds.Errorf(creds.HostSetupBadIface, err, strings.TrimPrefix(err.Error(), containers.ErrNoInterface.Error()+": ")))
		}
		if _, err := containers.System.On(names, *port); err != nil {
			return c.hostSetupError("on", err)
		}
		fmt.Fprintln(c.stdout, creds.Say(creds.HostSetupDone, strings.Join(names, ", "), *port))
		return exitOK
	case "off":
		fs := c.flags("containers off", "containers off", "sudo rolecall containers off")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		if err := containers.System.Off(); err != nil {
			return c.hostSetupError("off", err)
		}
		fmt.Fprintln(c.stdout, creds.Say(creds.HostSetupUndone))
		return exitOK
	case "status":
		fs := c.flags("containers status", "containers status", "sudo rolecall containers status")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		s, ok, rules, err := containers.System.Status()
		if err != nil {
			return c.hostSetupError("status", err)
		}
		if !ok && len(rules) == 0 {
			fmt.Fprintln(c.stdout, "off: containers do not reach rolecall (sudo rolecall containers on)")
			return exitOK
		}
		fmt.Fprintf(c.stdout, "on: %s to 127.0.0.1:%d on %s\n", containers.Address+":80", s.Port, strings.Join(s.Interfaces, ", "))
		for _, r := range rules {
			fmt.Fprintln(c.stdout, "  "+r)
		}
		return exitOK
	}
	fmt.Fprintf(c.stderr, "rolecall containers: unknown action %q: use on, off or status\n", args[0])
	return exitUsage
}

func (c *cli) hostSetupError(verb string, err error) int {
	if errors.Is(err, containers.ErrNeedsRoot) {
		return c.fail(creds.Errorf(creds.HostSetupNeedsRoot, err, verb))
	}
	return c.fail(err)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
