package main

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
)

func (c *cli) login(args []string) int {
	fs := c.flags("login", "login [--sso-session NAME | --profile P [--region R]] [--no-browser] [--pkce] [--force]", "rolecall login --sso-session corp --pkce")
	var req control.LoginRequest
	fs.StringVar(&req.Session, "sso-session", "", "the [sso-session NAME] of ~/.aws/config (default: the only one)")
	fs.StringVar(&req.Profile, "profile", "", "sign in as `aws login` does, for this login_session profile (a new one is added to ~/.aws/config)")
	fs.StringVar(&req.Region, "region", "", "the region to sign in to, for a new --profile")
	fs.BoolVar(&req.NoBrowser, "no-browser", false, "do not open a browser; print the URL to open elsewhere (always the device flow)")
	fs.BoolVar(&req.PKCE, "pkce", false, "sign in with the authorization code and PKCE, as the AWS CLI v2 does (needs a browser on this machine; settings: login_flow = \"pkce\")")
	fs.BoolVar(&req.Force, "force", false, "start a new Identity Center session with its full length (signing in again keeps the session's end): the current one is ended first")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	// Progress while Identity Center has not answered (it gives up
	// after 15 s); stopped by the prompt.
	var mu sync.Mutex
	waiting := time.AfterFunc(loginWaitNotice, func() {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(c.stderr, creds.Say(creds.LoginWaiting))
	})
	defer waiting.Stop()
	return c.call(func(cl *control.Client) error {
		res, err := cl.Login(c.ctx, req, func(p control.LoginPrompt) {
			waiting.Stop()
			mu.Lock()
			defer mu.Unlock()
			if p.CrossDevice { // `aws login` on another device
				c.pasteSigninCode(cl, req.Profile, p.VerificationURIComplete)
				return
			}
			if p.UserCode == "" { // PKCE: the browser comes back to rolecall
				fmt.Fprintf(c.stderr, "A browser opens to sign in; if none does, open:\n  %s\nWaiting for the browser to come back to rolecall...\n", p.VerificationURIComplete)
				return
			}
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

// pasteSigninCode shows the sign-in URL of a cross-device `aws login`
// sign-in and hands the running rolecall the code the user pastes from
// the sign-in page.
func (c *cli) pasteSigninCode(cl *control.Client, profile, url string) {
	fmt.Fprintf(c.stderr, "Open this URL in a browser on any device and sign in:\n  %s\nThen paste the code the page shows here: ", url)
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(c.stderr, "\nno code read:", err)
		return
	}
	if err := cl.SigninCode(c.ctx, profile, strings.TrimSpace(line)); err != nil {
		fmt.Fprintln(c.stderr, err)
	}
}

// loginWaitNotice is how long a login waits for its code in silence (a
// variable for the tests).
var loginWaitNotice = 3 * time.Second

func (c *cli) logout(args []string) int {
	fs := c.flags("logout", "logout [--sso-session NAME]", "rolecall logout --sso-session corp")
	session := fs.String("sso-session", "", "the sso-session to end (default: the only one)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *control.Client) error {
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
	fs := c.flags("roles", "roles [--json | --names]", "rolecall roles --json | jq -r '.roles[].name'")
	asJSON := fs.Bool("json", false, "print JSON (see README for its fields)")
	names := fs.Bool("names", false, "print the names only, one a line (for shell completion)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *control.Client) error {
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
