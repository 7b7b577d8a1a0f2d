package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The control channel on Windows is a named pipe, as Windows tools expect
// (wine, which CI tests under, has no AF_UNIX sockets at all). It uses the
// plain pipe API of golang.org/x/sys/windows: github.com/Microsoft/go-winio
// hangs under wine 10, where the overlapped ConnectNamedPipe of its
// ListenPipe/Accept (and the client's WriteFile) never complete through
// its own I/O completion port (GetQueuedCompletionStatus waits forever).
// Here the connect waits on an event, and the connected handle is read and
// written through os.NewFile, which the Go runtime polls (deadlines work).

const pipePrefix = `\\.\pipe\`

var userSID = sync.OnceValues(func() (*windows.SID, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("control pipe: current user: %w", err)
	}
	return u.User.Sid.Copy()
})

func defaultSocketPath() (string, error) {
	sid, err := userSID()
	if err != nil {
		return "", err
	}
	return pipePrefix + "rolecall-" + sid.String(), nil
}

// pipeName maps a path that is not a pipe name ($ROLECALL_SOCKET set to a
// file path, as on Unix) to a pipe name of its own.
func pipeName(path string) string {
	if strings.HasPrefix(strings.ToLower(path), pipePrefix) {
		return path
	}
	sum := sha256.Sum256([]byte(strings.ToLower(path)))
	return pipePrefix + "rolecall-" + hex.EncodeToString(sum[:12])
}

func listen(path string) (net.Listener, error) {
	name := pipeName(path)
	if c, err := dial(context.Background(), name); err == nil {
		c.Close()
		return nil, fmt.Errorf("%w: its control pipe %s answers", ErrAlreadyRunning, name)
	}
	sid, err := userSID()
	if err != nil {
		return nil, err
	}
	// Owned by and open to the current user only; nothing inherited.
	sd, err := windows.SecurityDescriptorFromString("O:" + sid.String() + "D:P(A;;GA;;;" + sid.String() + ")")
	if err != nil {
		return nil, fmt.Errorf("control pipe: %w", err)
	}
	l := &pipeListener{name: name, sa: &windows.SecurityAttributes{
		Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd,
	}}
	if l.connected, err = windows.CreateEvent(nil, 1, 0, nil); err != nil {
		return nil, fmt.Errorf("control pipe: %w", err)
	}
	if l.closing, err = windows.CreateEvent(nil, 1, 0, nil); err != nil {
		windows.CloseHandle(l.connected)
		return nil, fmt.Errorf("control pipe: %w", err)
	}
	// The first instance is created here, so that a client can connect
	// (and wait) as soon as Listen returns, and so that a pipe of that
	// name made by anyone else is an error.
	if l.next, err = l.instance(true); err != nil {
		windows.CloseHandle(l.connected)
		windows.CloseHandle(l.closing)
		return nil, fmt.Errorf("control pipe %s: %w", name, err)
	}
	return l, nil
}

// pipeListener hands out one connected pipe instance per Accept, always
// keeping one instance waiting for the next client.
type pipeListener struct {
	name      string
	sa        *windows.SecurityAttributes
	connected windows.Handle // event of the pending ConnectNamedPipe
	closing   windows.Handle // event set by Close

	mu        sync.Mutex
	next      windows.Handle // instance waiting for a client
	accepting bool
	closed    bool
}

func (l *pipeListener) instance(first bool) (windows.Handle, error) {
	name, err := windows.UTF16PtrFromString(l.name)
	if err != nil {
		return 0, err
	}
	flags := uint32(windows.PIPE_ACCESS_DUPLEX | windows.FILE_FLAG_OVERLAPPED)
	if first {
		flags |= windows.FILE_FLAG_FIRST_PIPE_INSTANCE
	}
	return windows.CreateNamedPipe(name, flags,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		windows.PIPE_UNLIMITED_INSTANCES, 64<<10, 64<<10, 0, l.sa)
}

// Accept waits for a client on the waiting instance, then makes the next.
func (l *pipeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.closed || l.accepting {
		l.mu.Unlock()
		return nil, net.ErrClosed
	}
	l.accepting = true
	h := l.next
	l.next = 0
	l.mu.Unlock()

	err := l.connect(h)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepting = false
	if err == nil && !l.closed {
		l.next, err = l.instance(false)
		if err == nil {
			return &pipeConn{File: os.NewFile(uintptr(h), l.name), name: l.name}, nil
		}
	}
	windows.CloseHandle(h)
	if l.closed {
		l.release()
		return nil, net.ErrClosed
	}
	return nil, fmt.Errorf("control pipe: %w", err)
}

// connect waits until a client connects to h or the listener closes.
func (l *pipeListener) connect(h windows.Handle) error {
	o := windows.Overlapped{HEvent: l.connected}
	windows.ResetEvent(l.connected)
	err := windows.ConnectNamedPipe(h, &o)
	switch err {
	case nil, windows.ERROR_PIPE_CONNECTED: // the client came first
		return nil
	case windows.ERROR_IO_PENDING:
	default:
		return err
	}
	ev, err := windows.WaitForMultipleObjects([]windows.Handle{l.connected, l.closing}, false, windows.INFINITE)
	if err != nil || ev != windows.WAIT_OBJECT_0 {
		windows.CancelIoEx(h, &o)
	}
	var n uint32
	return windows.GetOverlappedResult(h, &o, &n, true)
}

// Close stops Accept; connections already handed out stay open.
func (l *pipeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	windows.SetEvent(l.closing)
	if !l.accepting {
		l.release()
	}
	return nil
}

// release frees the handles once no Accept runs; l.mu is held.
func (l *pipeListener) release() {
	if l.next != 0 {
		windows.CloseHandle(l.next)
		l.next = 0
	}
	if l.connected != 0 {
		windows.CloseHandle(l.connected)
		windows.CloseHandle(l.closing)
		l.connected, l.closing = 0, 0
	}
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr(l.name) }

// pipeConn is one end of a connected pipe instance.
type pipeConn struct {
	*os.File
	name string
}

// Read and Write give errors as a net.Conn does: io.EOF as it is, others
// as *net.OpError, so that net/http sees the deadline it set to end its
// background read as a timeout (an *os.PathError is not a net.Error, and
// would cancel the connection's context, and with it the next request on
// the connection).
func (c *pipeConn) Read(b []byte) (int, error) {
	n, err := c.File.Read(b)
	if n == 0 && err == nil && len(b) > 0 {
		err = io.EOF
	}
	return n, c.opError("read", err)
}

func (c *pipeConn) Write(b []byte) (int, error) {
	n, err := c.File.Write(b)
	return n, c.opError("write", err)
}

func (c *pipeConn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &net.OpError{Op: op, Net: "pipe", Addr: pipeAddr(c.name), Err: err}
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.name) }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.name) }

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// dial opens the pipe, waiting while every instance is busy, and checks
// that the server's end belongs to the current user: a pipe of the same
// name made by someone else first is refused. The server may only identify
// us, never act as us.
func dial(ctx context.Context, path string) (net.Conn, error) {
	name := pipeName(path)
	n16, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for {
		h, err := windows.CreateFile(n16, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		if err == nil {
			if err := checkServerOwner(h); err != nil {
				windows.CloseHandle(h)
				return nil, fmt.Errorf("control pipe %s: %w", name, err)
			}
			return &pipeConn{File: os.NewFile(uintptr(h), name), name: name}, nil
		}
		wait := time.Until(deadline)
		if !errors.Is(err, windows.ERROR_PIPE_BUSY) || wait <= 0 || ctx.Err() != nil {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
		// Busy only between a connect and the server's next instance.
		time.Sleep(min(wait, 10*time.Millisecond))
	}
}

// checkServerOwner refuses a pipe whose owner is not the current user.
func checkServerOwner(h windows.Handle) error {
	me, err := userSID()
	if err != nil {
		return err
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("read the pipe's owner: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil || !owner.Equals(me) {
		return fmt.Errorf("the pipe belongs to %v, not to you: not talking to it", owner)
	}
	return nil
}
