//go:build !linux

package remote

import (
	"errors"
	"os"
	"os/exec"
)

// supported: rolecall ssh puts a pseudo-terminal of its own between the
// user's terminal and ssh, built for Linux only so far.
const supported = false

func diesWithUs(*exec.Cmd) {}

func isTerminal(*os.File) bool { return false }

func (s *sessionIO) openPTY(*exec.Cmd, *os.File) error {
	return errors.New("no pseudo-terminal on this system")
}

func interruptible(f *os.File) (*os.File, func()) { return f, func() {} }

func restoreBlocking(*os.File) {}

func signalCode(*os.ProcessState) int { return 255 }
