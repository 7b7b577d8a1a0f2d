package main

import (
	"fmt"
	"runtime"

	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/tray"
)

// autostart acts on the system's start-at-login entry directly: it needs
// no running process.
func (c *cli) autostart(args []string) int {
	const syn = "autostart on|off|status"
	if rc, done := c.actionVerb(args, syn, "rolecall autostart on"); done {
		return rc
	}
	if len(args) != 1 {
		fmt.Fprintf(c.stderr, "rolecall autostart: one action only\nUsage: rolecall %s\n", syn)
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
	fs := c.flags("version", "version", "rolecall version")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	fmt.Fprintf(c.stdout, "rolecall %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
	return exitOK
}

// stop asks the running rolecall to shut down, as Quit in the tray does.
func (c *cli) stop(args []string) int {
	fs := c.flags("stop", "stop", "rolecall stop")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *control.Client) error {
		status, err := cl.Stop(c.ctx)
		if err == nil {
			fmt.Fprintf(c.stdout, "rolecall (pid %d) is stopping\n", status.PID)
		}
		return err
	})
}
