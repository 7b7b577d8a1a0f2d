// Package remote runs the user's own ssh so that the remote host reaches
// rolecall: a reverse forward from the remote loopback to rolecall's
// listener, and a small POSIX-sh bootstrap, the remote command, that reads
// the endpoint's URL and its secret from ssh's stdin (echo off) and then
// execs the user's login shell or command with them in its environment.
// The secret never stands on a command line, local or remote, and never in
// a file.
package remote

import (
	"errors"
	"fmt"
	"strings"
)

// withArg are the ssh options that take an argument (ssh(1), OpenSSH 9.x;
// -P takes a tag since 9.4).
const withArg = "BbcDEeFIiJLlmOoPpQRSWw"

// withoutArg are the ssh options that stand alone.
const withoutArg = "46AaCfGgKkMNnqsTtVvXxYy"

// refused are the ssh options rolecall ssh cannot carry, with why: each
// leaves no session for the bootstrap, runs ssh where rolecall cannot see
// it, or hides the line that tells the remote port.
var refused = map[byte]string{
	'N': "-N runs no remote command, so nothing on the remote host would get the endpoint",
	'f': "-f puts ssh in the background, where rolecall cannot hand the remote its endpoint",
	'W': "-W forwards stdio instead of running a remote command",
	'O': "-O talks to a control master instead of starting a session",
	's': "-s starts a subsystem, not a shell or command",
	'G': "-G only prints the configuration",
	'V': "-V only prints ssh's version",
	'Q': "-Q only queries ssh's algorithms",
	'q': "-q hides the line in which ssh tells the remote port it was given; use -o LogLevel=INFO or leave -q out",
	'E': "-E sends ssh's messages to a file, and with them the line that tells the remote port",
}

// ErrUsage is the cause of every argument ssh rolecall cannot run with.
var ErrUsage = errors.New("ssh arguments")

// Args is an ssh command line taken apart the way ssh reads it: options
// (before and after the destination), the destination, and the remote
// command.
type Args struct {
	Options     []string // every option with its value, in order, as given
	Destination string
	Command     []string // the remote command's words; empty for a login shell
	TTY         int      // how many -t (ssh requests a pseudo-terminal for 1, forces one for 2)
	NoTTY       bool     // -T
	NoStdin     bool     // -n: the remote command gets no input
}

// ParseArgs reads ssh's argv (without "ssh"): options, then the
// destination, then more options, up to the first word that is not an
// option or up to "--"; the rest is the remote command. It refuses the
// options of the refused list.
func ParseArgs(argv []string) (Args, error) {
	var a Args
	i := 0
	terminated := false
	for i < len(argv) {
		w := argv[i]
		if !terminated && w == "--" {
			terminated = true
			i++
			if a.Destination != "" {
				break
			}
			continue
		}
		if terminated || len(w) < 2 || w[0] != '-' {
			if a.Destination != "" {
				break // the remote command starts here
			}
			a.Destination = w
			i++
			if terminated {
				break
			}
			continue
		}
		n, err := a.option(argv[i:])
		if err != nil {
			return Args{}, err
		}
		i += n
	}
	if a.Destination == "" {
		return Args{}, fmt.Errorf("%w: name the destination, as for ssh ([user@]host[:port] or ssh://[user@]host[:port])", ErrUsage)
	}
	a.Command = append([]string(nil), argv[i:]...)
	return a, nil
}

// option reads one option word (and its value) from argv; it returns how
// many words it took.
func (a *Args) option(argv []string) (int, error) {
	w := argv[0]
	for j := 1; j < len(w); j++ {
		c := w[j]
		if why, ok := refused[c]; ok {
			return 0, fmt.Errorf("%w: rolecall ssh cannot run with -%c: %s", ErrUsage, c, why)
		}
		switch {
		case strings.IndexByte(withArg, c) >= 0:
			if j+1 < len(w) {
				a.Options = append(a.Options, w)
				return 1, nil
			}
			if len(argv) < 2 {
				return 0, fmt.Errorf("%w: ssh option -%c needs a value", ErrUsage, c)
			}
			a.Options = append(a.Options, w, argv[1])
			return 2, nil
		case strings.IndexByte(withoutArg, c) >= 0:
			switch c {
			case 't':
				a.TTY++
			case 'T':
				a.NoTTY = true
			case 'n':
				a.NoStdin = true
			}
		default:
			return 0, fmt.Errorf("%w: unknown ssh option -%c (ssh(1) lists them)", ErrUsage, c)
		}
	}
	if w != "-n" {
		a.Options = append(a.Options, strings.ReplaceAll(w, "n", ""))
	}
	return 1, nil
}
