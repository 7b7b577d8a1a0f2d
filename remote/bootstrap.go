package remote

import (
	"fmt"
	"strings"
)

// The bootstrap is the remote command: one line of POSIX sh, run by
// `/bin/sh -c` from whatever login shell the remote account has (sh,
// bash, zsh, fish and csh all pass a single-quoted word without `'`, `!`,
// `\` or a newline through unchanged, so the script holds none of them).
// It turns terminal echo off when it has a terminal, says it is ready
// (the marker, which rolecall takes out of the output), reads the
// endpoint's URL and the secret from its stdin, restores echo,
// exports them with the variables that would shadow them unset, and execs
// the login shell ($SHELL -l) or the user's command ($SHELL -c, as sshd
// itself runs a command). The values live in shell variables only:
// `read` and `export` are built into every sh, so no process ever has
// them on its command line.
//
// Its arguments: $1 the marker (random per session), $2 the user's command (empty for a login
// shell), escaped as printf %b reads it.
const bootstrapScript = `m=$1; t=; if [ -t 0 ]; then t=1; stty -echo; fi; echo "$m"; u=; s=; ` +
	`while IFS= read -r l; do case $l in *"$m u "*) u=${l#*"$m u "};; *"$m s "*) s=${l#*"$m s "}; break;; esac; done; ` +
	`if [ -n "$t" ]; then stty echo; fi; ` +
	`if [ -z "$u" ] || [ -z "$s" ]; then echo "rolecall: no endpoint came through ssh" >&2; exit 1; fi; ` +
	`unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN ` +
	`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; ` +
	`AWS_CONTAINER_CREDENTIALS_FULL_URI=$u; AWS_CONTAINER_AUTHORIZATION_TOKEN=$s; ` +
	`export AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN; unset m t u s l; ` +
	`sh=${SHELL:-/bin/sh}; c=$(printf "%b" "$2"); ` +
	`if [ -z "$c" ]; then exec "$sh" -l; fi; exec "$sh" -c "$c"`

// header is what rolecall writes to the bootstrap once it is ready: the
// endpoint's URL and the secret, each on a line that carries the marker
// (the bootstrap skips lines without it: keys typed ahead on a terminal).
func header(marker, url, secret string) string {
	return marker + " u " + url + "\n" + marker + " s " + secret + "\n"
}

// remoteCommand is the command line ssh sends: the bootstrap with its
// arguments, quoted for any login shell.
func remoteCommand(marker string, command []string) string {
	return fmt.Sprintf("exec /bin/sh -c '%s' rolecall-ssh %s '%s'", bootstrapScript, marker, escapeCommand(strings.Join(command, " ")))
}

// escapeCommand writes s with every byte outside a small safe set as a
// \0ooo escape of printf %b, so that the word survives single quotes in
// sh, fish and csh alike (none of them then sees `'`, `!`, `\` or a
// newline of the user's).
func escapeCommand(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(" _./:=,+@%-", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, `\0%03o`, c)
	}
	return b.String()
}
