package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/sso"
)

// The verbs that hand a role to something else: a command (exec), an AWS
// config profile (credential-process), a browser (console).

func (c *cli) exec(args []string) int {
	fs := c.flags("exec", "exec [--profile P] -- COMMAND [ARGS...]",
		"rolecall exec --profile prod -- terraform plan")
	profile := fs.String("profile", "", "run with P's named slot (loaded if needed; default: the default slot)")
	if rc := c.parseFlags(fs, args); rc >= 0 {
		return rc
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return c.usageError(fs, "name the command to run after --")
	}
	var env []string
	if rc := c.call(func(cl *control.Client) error {
		if err := c.ensureSlot(cl, *profile); err != nil {
			return err
		}
		e, err := cl.Env(c.ctx, *profile)
		if err != nil {
			return err
		}
		env = childEnv(os.Environ(), e)
		return nil
	}); rc != exitOK {
		return rc
	}
	rc, err := runChild(argv[0], argv[1:], env, os.Stdin, c.stdout, c.stderr)
	if err != nil {
		fmt.Fprintln(c.stderr, "rolecall:", err) // with a shell's status: 127 not found, 126 not runnable
	}
	return rc
}

// ensureSlot loads profile into its own named slot unless it is loaded
// already; the default slot ("") is used as it is.
func (c *cli) ensureSlot(cl *control.Client, profile string) error {
	if profile == "" {
		return nil
	}
	slots, err := cl.Slots(c.ctx)
	if err != nil {
		return err
	}
	for _, s := range slots {
		if s.Slot == profile {
			return nil
		}
	}
	_, err = cl.Load(c.ctx, control.LoadRequest{Profile: profile, Slot: true})
	return err
}

// slotCredentials gets a slot's credentials, loading the slot when needed
// and waiting out a refresh that takes longer than one request's wait.
func (c *cli) slotCredentials(cl *control.Client, profile string) (control.Credentials, error) {
	if err := c.ensureSlot(cl, profile); err != nil {
		return control.Credentials{}, err
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	for {
		cr, err := cl.Credentials(ctx, profile)
		var api *control.APIError
		if err == nil || !errors.As(err, &api) || api.Status != http.StatusServiceUnavailable {
			return cr, err
		}
		select {
		case <-ctx.Done():
			return cr, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// processCredentials is the output of a credential_process (version 1).
type processCredentials struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

func (c *cli) credentialProcess(args []string) int {
	fs := c.flags("credential-process", "credential-process --profile P",
		"in ~/.aws/config:\n    [profile dev-rc]\n    credential_process = rolecall credential-process --profile dev")
	profile := fs.String("profile", "", "the profile or discovered role to serve (loaded into its named slot if needed)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	if *profile == "" {
		return c.usageError(fs, "name the role with --profile")
	}
	return c.call(func(cl *control.Client) error {
		cr, err := c.slotCredentials(cl, *profile)
		if err != nil {
			return err
		}
		return c.printJSON(processCredentials{
			Version: 1, AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey,
			SessionToken: cr.SessionToken, Expiration: cr.Expiration,
		})
	})
}

func (c *cli) console(args []string) int {
	fs := c.flags("console", "console [--profile P] [--print]", "rolecall console --profile prod")
	profile := fs.String("profile", "", "sign in as P's role (loaded into its named slot if needed; default: the default slot)")
	print := fs.Bool("print", false, "print the sign-in URL instead of opening it (it signs in whoever opens it for 15 minutes)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *control.Client) error {
		cr, err := c.slotCredentials(cl, *profile)
		if err != nil {
			return err
		}
		exp, _ := time.Parse(creds.ExpirationFormat, cr.Expiration)
		e, err := cl.Env(c.ctx, *profile)
		if err != nil {
			return err
		}
		u, err := sso.ConsoleURL(c.ctx, creds.Credentials{
			AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken,
			Expiration: exp, RoleARN: cr.RoleARN, AccountID: cr.AccountID,
		}, cmp.Or(e.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")))
		if err != nil {
			return err
		}
		if *print {
			fmt.Fprintln(c.stdout, u)
			return nil
		}
		// The running rolecall opens it (a one-time, same-user-only
		// link): never on a browser's command line here.
		if err := cl.Open(c.ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "opened the AWS console as %s\n", cr.RoleARN)
		return nil
	})
}
