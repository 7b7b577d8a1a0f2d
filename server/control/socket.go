package control

import (
	"context"
	"errors"
	"net"
	"os"
)

// SocketEnv names the variable that overrides the control socket's path.
const SocketEnv = "ROLECALL_SOCKET"

// SocketPath is where the control channel lives: $ROLECALL_SOCKET, else
// $XDG_RUNTIME_DIR/rolecall/control.sock on Linux, the user cache dir's
// rolecall/control.sock on other Unix systems, and on Windows the named
// pipe \\.\pipe\rolecall-<the user's SID>.
func SocketPath() (string, error) {
	if p := os.Getenv(SocketEnv); p != "" {
		return p, nil
	}
	return defaultSocketPath()
}

// ErrAlreadyRunning: another process answers on the control socket.
var ErrAlreadyRunning = errors.New("rolecall is already running")

// Listen opens the control channel at path, reachable by the current user
// only: on Unix a socket with mode 0600 in a 0700 directory (refusing a
// directory that belongs to someone else); on Windows a named pipe whose
// security descriptor grants only the current user (a path that is not a
// pipe name is mapped to one). ErrAlreadyRunning when a process answers
// there already.
func Listen(path string) (net.Listener, error) { return listen(path) }

// Dial connects to the control channel at path. An error for which
// errors.Is(err, os.ErrNotExist) holds means that nothing listens there.
func Dial(ctx context.Context, path string) (net.Conn, error) { return dial(ctx, path) }
