package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
)

func (c *cli) load(args []string) int {
	fs := c.flags("load", "load --profile P [--slot] | --account ID --role NAME [--slot]",
		"rolecall load --profile dev            # default slot, served at /\n  rolecall load --profile prod --slot     # its own slot, served at /slot/prod")
	var req control.LoadRequest
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
	return c.call(func(cl *control.Client) error {
		s, err := cl.Load(c.ctx, req)
		if err != nil {
			return err
		}
		where := "the default slot"
		if s.Slot != "default" {
			where = "slot " + s.Slot
		}
		if s.NotSaved != "" {
			return fmt.Errorf("loaded %s into %s, but not saved (%s): after a restart the previous role comes back", s.Profile, where, s.NotSaved)
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
	return c.call(func(cl *control.Client) error { return cl.Unload(c.ctx, *profile) })
}

func (c *cli) list(args []string) int {
	fs := c.flags("list", "list [--json]", "rolecall list --json | jq -r '.[].profile'")
	asJSON := fs.Bool("json", false, "print a JSON array (see README for its fields)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *control.Client) error {
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
	fs := c.flags("current", "current", "PS1='[$(rolecall current)] \\$ '   # the default slot's role in the prompt (not for --profile: the SDKs would read the profile, not rolecall)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *control.Client) error {
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
	fs := c.flags("env", "env [--profile P] [--shell sh|fish|powershell] [--imds] [--token-file-only]", `eval "$(rolecall env)"`)
	profile := fs.String("profile", "", "a named slot (default: the default slot)")
	shell := fs.String("shell", defaultShell(), "output syntax: sh, fish or powershell")
	var o envOptions
	fs.BoolVar(&o.imds, "imds", false, "the EC2 instance metadata endpoint instead (needs imds = true or serve --imds)")
	fs.BoolVar(&o.fileOnly, "token-file-only", false, "export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE instead of the token (follows `rolecall token --rotate`; Debian's awscli and boto3 do not read it)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	if *shell != "sh" && *shell != "fish" && *shell != "powershell" {
		return c.usageError(fs, fmt.Sprintf("--shell %q: choose sh, fish or powershell", *shell))
	}
	if o.imds && *profile != "" {
		return c.usageError(fs, creds.Say(creds.EnvIMDSProfile))
	}
	return c.call(func(cl *control.Client) error {
		e, err := cl.Env(c.ctx, *profile)
		if err != nil {
			return err
		}
		if o.imds && !e.IMDS {
			return errors.New(creds.Say(creds.EnvNoIMDS))
		}
		fmt.Fprint(c.stdout, exports(*shell, e, o))
		return nil
	})
}

// envOptions choose what `rolecall env` exports.
type envOptions struct {
	imds     bool // AWS_EC2_METADATA_SERVICE_ENDPOINT instead of the container endpoint
	fileOnly bool // the token file only, not the token
}

// shadowing are variables that win over the container endpoint in the SDK
// credential chains; `rolecall env` and `rolecall exec` clear them: a
// profile (AWS_DEFAULT_PROFILE is boto3's and the CLI v1's), static keys
// (with botocore's AWS_SECURITY_TOKEN and the Java SDK's AWS_ACCESS_KEY /
// AWS_SECRET_KEY spellings), web identity (a role and a token file, read
// before the container provider in every chain) and the relative
// container URI.
var shadowing = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
}

// envVars are the variables to unset and to set, in order (`rolecall env`
// and `rolecall exec` both). The token goes in one form only: the
// JavaScript SDK v3 warns on every credential fetch when both are set.
// _TOKEN by default, the one form every client reads (Debian's awscli 2.9
// and python3-boto3 1.26, rclone and the JavaScript SDK v3's
// fromContainerMetadata know no _TOKEN_FILE); after a rotation the shell
// evals again. --token-file-only sets the file instead, which follows a
// rotation in the SDKs that read it. The slot's region travels with it
// (AWS_REGION for the SDKs, AWS_DEFAULT_REGION for botocore and the CLI).
// The IMDS endpoint needs its trailing slash (the AWS CLI v2 appends
// "latest/api/token" to it as it is) and AWS_EC2_METADATA_DISABLED=false
// (the AWS CDK turns IMDS off unless it is set).
func envVars(e control.Env, o envOptions) (unset []string, set [][2]string) {
	unset = append(unset, shadowing...)
	switch {
	case o.imds:
		unset = append(unset, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
			"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
		u := e.FullURI
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		set = [][2]string{{"AWS_EC2_METADATA_SERVICE_ENDPOINT", u}, {"AWS_EC2_METADATA_DISABLED", "false"}}
	case o.fileOnly || e.Token == "":
		unset = append(unset, "AWS_CONTAINER_AUTHORIZATION_TOKEN")
		set = [][2]string{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", e.FullURI}, {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", e.TokenFile}}
	default:
		unset = append(unset, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
		set = [][2]string{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", e.FullURI}, {"AWS_CONTAINER_AUTHORIZATION_TOKEN", e.Token}}
	}
	return unset, append(set, regionVars(e.Region)...)
}

// regionVars carry a role's region to a client: AWS_REGION for the SDKs,
// AWS_DEFAULT_REGION for botocore and the AWS CLI; none for a role
// without one (the client's own stays).
func regionVars(region string) [][2]string {
	if region == "" {
		return nil
	}
	return [][2]string{{"AWS_REGION", region}, {"AWS_DEFAULT_REGION", region}}
}

// exports writes the environment for a shell.
func exports(shell string, e control.Env, o envOptions) string {
	unset, set := envVars(e, o)
	return shellLines(shell, unset, set)
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

// expiresIn shows an expiration as local time and time left.
func expiresIn(exp string) string {
	t, err := time.Parse(creds.ExpirationFormat, exp)
	if err != nil {
		return "-"
	}
	left := time.Until(t).Round(time.Minute)
	if left <= 0 {
		return t.Local().Format("15:04") + " (expired)"
	}
	return fmt.Sprintf("%s (in %s)", t.Local().Format("15:04"), strings.TrimSuffix(left.String(), "0s"))
}
