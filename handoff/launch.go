package handoff

import (
	"fmt"
	"os/exec"
)

// Launch starts the desktop's launcher (xdg-open, open, or Windows' URL
// handler) on target, a file:// URL of ours that carries no secret, and
// returns once it started: a code approved in a second ends its login in
// a second even when the launcher stays (some run the browser in the
// foreground). Its goroutine only reaps the launcher and ends when it
// exits.
func Launch(target string) error {
	name, args := launcher(target)
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the browser (%s): %w", name, err)
	}
	go cmd.Wait()
	return nil
}
