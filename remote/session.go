package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"

	"github.com/rolecall/rolecall/creds"
)

// Session is one run of the user's ssh with the remote loopback forwarded
// to rolecall.
type Session struct {
	SSH  string // the ssh program; "ssh" (from PATH) when empty
	Args Args   // the user's ssh arguments
	// Endpoint is the URL of the role on rolecall's listener, as this
	// machine reaches it (http://127.0.0.1:4144/slot/dev); the remote
	// gets the same URL on the forward's port of its own loopback.
	Endpoint   string
	RemotePort int    // the port on the remote loopback; 0 lets sshd choose a free one
	Secret     string // what the remote sends as AWS_CONTAINER_AUTHORIZATION_TOKEN

	Stdin          *os.File // the user's input (a terminal gets a local pseudo-terminal in between)
	Stdout, Stderr io.Writer
	Log            *slog.Logger

	// Forwarded, when set, is called once with the remote port when the
	// forward is up and the remote has its endpoint.
	Forwarded func(remotePort int)
}

// The ssh messages read from its stderr (OpenSSH's wording since 6.x):
// "Allocated port N for remote forward to ..." starts a line; the refusal
// can come after ssh's "Warning: ". Plain string matching, no regexp: a
// package-level regexp is compiled by every rolecall process at start.
const (
	allocatedMsg   = "Allocated port "
	allocatedAfter = " for remote forward to "
	failedMsg      = "remote port forwarding failed for listen port "
)

// portAfter returns the port number that follows msg in line (msg at the
// start of line when anchored) and the rest of the line after it.
func portAfter(line []byte, msg string, anchored bool) (port int, rest []byte, ok bool) {
	i := bytes.Index(line, []byte(msg))
	if i < 0 || anchored && i != 0 {
		return 0, nil, false
	}
	rest = line[i+len(msg):]
	n := 0
	for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, nil, false
	}
	port, err := strconv.Atoi(string(rest[:n]))
	return port, rest[n:], err == nil
}

// Run runs ssh until it exits and returns the exit status of the remote
// command (as ssh does). An error means the session never started: ssh
// is missing or failed before the remote command ran, or the forward was
// refused; its text is from creds' table and names what to do.
func (s *Session) Run(ctx context.Context) (int, error) {
	path, endpoint, marker, err := s.prepare()
	if err != nil {
		return 0, err
	}
	term := s.Stdin != nil && isTerminal(s.Stdin)
	usePTY := term && s.wantsPTY(true)
	cmd := exec.CommandContext(ctx, path, s.argv(marker, endpoint.Host, usePTY)...)
	diesWithUs(cmd)
	var sio sessionIO
	defer sio.close()
	errR, err := s.start(cmd, &sio, usePTY)
	if err != nil {
		return 0, err
	}
	defer errR.Close()

	ready := make(chan struct{}) // the bootstrap waits for its endpoint
	forward := make(chan int, 1) // the remote port, once sshd gave it
	refused := make(chan int, 1) // the port sshd refused
	var out sync.WaitGroup
	out.Add(2)
	go func() {
		defer out.Done()
		s.readStderr(errR, forward, refused)
	}()
	go func() {
		defer out.Done()
		copyAfterMarker(s.Stdout, sio.out, marker, ready)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	sent, waitErr := s.handshake(&sio, endpoint, marker, usePTY, forward, ready, waited)
	if sent {
		waitErr = <-waited
	}
	sio.stopInput()
	out.Wait()
	select {
	case p := <-refused:
		return 0, s.refusedError(p)
	default:
	}
	code := exitCode(cmd, waitErr)
	if !sent {
		return code, creds.Errorf(creds.SSHFailed, waitErr, s.Args.Destination, code)
	}
	return code, nil
}

// handshake waits for sshd's port and the bootstrap's ready line, then
// sends the bootstrap the endpoint on that port and the secret (on ssh's
// input, never a command line) and passes the user's input on; sent is
// false when ssh ended first, with waitErr its end.
func (s *Session) handshake(sio *sessionIO, endpoint *url.URL, marker string, usePTY bool,
	forward <-chan int, ready <-chan struct{}, waited <-chan error) (sent bool, waitErr error) {
	port := s.RemotePort
	for {
		select {
		case p := <-forward:
			port = p
		case <-ready:
			ready = nil
		case waitErr = <-waited:
			return false, waitErr
		}
		if ready != nil || port <= 0 {
			continue
		}
		u := *endpoint
		u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if _, err := io.WriteString(sio.in, header(marker, u.String(), s.Secret)); err != nil {
			s.Log.Debug("ssh's input closed before the endpoint was sent", "err", err)
		}
		if s.Forwarded != nil {
			s.Forwarded(port)
		}
		if !usePTY {
			sio.pass(s.Stdin, !s.Args.NoStdin)
		}
		return true, nil
	}
}

// prepare checks what a session needs before ssh starts: ssh itself,
// rolecall's endpoint, and a fresh marker for the bootstrap's lines.
func (s *Session) prepare() (path string, endpoint *url.URL, marker string, err error) {
	if !supported {
		return "", nil, "", creds.Errorf(creds.SSHUnsupported, nil)
	}
	if s.SSH == "" {
		s.SSH = "ssh"
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if path, err = exec.LookPath(s.SSH); err != nil {
		return "", nil, "", creds.Errorf(creds.SSHMissing, err)
	}
	endpoint, err = url.Parse(s.Endpoint)
	if err != nil || endpoint.Port() == "" {
		return "", nil, "", fmt.Errorf("rolecall's endpoint %q: no host and port", s.Endpoint)
	}
	if marker, err = newMarker(); err != nil {
		return "", nil, "", err
	}
	return path, endpoint, marker, nil
}

// start starts ssh with its input and output on sio (a pseudo-terminal
// or pipes) and its stderr on the pipe it returns, which the caller
// closes.
func (s *Session) start(cmd *exec.Cmd, sio *sessionIO, usePTY bool) (*os.File, error) {
	var err error
	if usePTY {
		err = sio.openPTY(cmd, s.Stdin)
	} else {
		err = sio.openPipes(cmd)
	}
	if err != nil {
		return nil, fmt.Errorf("start ssh: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start ssh: %w", err)
	}
	cmd.Stderr = errW
	sio.child = append(sio.child, errW)
	if err := cmd.Start(); err != nil {
		sio.closeChild()
		errR.Close()
		return nil, fmt.Errorf("start ssh: %w", err)
	}
	sio.closeChild()
	s.Log.Debug("ssh started", "pid", cmd.Process.Pid, "pty", usePTY)
	return errR, nil
}

// wantsPTY says whether ssh would ask the remote for a terminal for the
// user's arguments, stdin being a terminal or not.
func (s *Session) wantsPTY(term bool) bool {
	a := s.Args
	switch {
	case a.NoTTY:
		return false
	case a.TTY >= 2:
		return true
	case a.TTY == 1 || len(a.Command) == 0:
		return term
	}
	return false
}

// argv is ssh's command line: rolecall's options first (ssh keeps the
// first value of an option), then the user's, then the destination and
// the bootstrap. ControlPath none: a shared master would report the
// forward's port only at -v, and runs the session under its own options.
// RemoteCommand none: a RemoteCommand in the user's ssh_config would
// clash with the bootstrap.
func (s *Session) argv(marker, target string, tty bool) []string {
	argv := []string{
		"-o", "ExitOnForwardFailure=yes",
		"-o", "LogLevel=INFO",
		"-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "RemoteCommand=none",
		"-R", fmt.Sprintf("127.0.0.1:%d:%s", s.RemotePort, target),
	}
	if tty && s.Args.TTY == 0 {
		argv = append(argv, "-t") // the bootstrap is a command: ssh asks for a terminal only when told
	}
	argv = append(argv, s.Args.Options...)
	return append(argv, "--", s.Args.Destination, remoteCommand(marker, s.Args.Command))
}

// readStderr passes ssh's stderr through (see stderrFilter).
func (s *Session) readStderr(r io.Reader, forward, refused chan<- int) {
	f := &stderrFilter{w: s.Stderr, filtering: s.RemotePort == 0, forward: forward, refused: refused}
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		f.write(buf[:n])
		if err != nil {
			if f.filtering {
				f.w.Write(f.line)
			}
			return
		}
	}
}

// stderrFilter passes ssh's stderr to w. Until sshd has given the
// forward's port (the line that says it is taken out, its port sent on
// forward), it goes line by line; from then on as it comes, so that a
// remote prompt without a newline shows at once. Every line is read for a
// refused forward, whose port goes on refused (and whose line, while
// lines are held, is left to rolecall's own).
type stderrFilter struct {
	w                io.Writer
	filtering        bool
	line             []byte // the line so far
	forward, refused chan<- int
}

func (f *stderrFilter) write(p []byte) {
	for len(p) > 0 {
		end := len(p)
		i := bytes.IndexByte(p, '\n')
		if i >= 0 {
			end = i + 1
		}
		if !f.filtering {
			f.w.Write(p[:end])
		}
		f.line = append(f.line, p[:end]...)
		p = p[end:]
		if i >= 0 || len(f.line) > 4096 { // no ssh message is that long
			f.flush()
		}
	}
}

// flush reads the line and, while filtering, writes it (unless it gives
// the port); then the next one starts.
func (f *stderrFilter) flush() {
	defer func() { f.line = f.line[:0] }()
	if p, _, ok := portAfter(f.line, failedMsg, false); ok {
		select {
		case f.refused <- p:
		default:
		}
		return // rolecall says it in its own line, with what to do
	}
	if !f.filtering {
		return
	}
	if p, rest, ok := portAfter(f.line, allocatedMsg, true); ok && bytes.HasPrefix(rest, []byte(allocatedAfter)) {
		f.forward <- p // buffered; sshd says it once
		f.filtering = false
		return
	}
	f.w.Write(f.line)
}

func (s *Session) refusedError(port int) error {
	if s.RemotePort != 0 {
		return creds.Errorf(creds.SSHPortTaken, nil, port, s.Args.Destination)
	}
	return creds.Errorf(creds.SSHForwardRefused, nil, s.Args.Destination)
}

// copyAfterMarker copies r to w, taking out the bootstrap's ready line
// (and closing ready when it comes). What comes before it (ssh's prompts
// on a terminal, what the remote login shell prints) is written at once,
// but for an end that could be the start of the marker.
func copyAfterMarker(w io.Writer, r io.Reader, marker string, ready chan<- struct{}) {
	m := []byte(marker)
	var pending []byte
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		pending = append(pending, buf[:n]...)
		if i := bytes.Index(pending, m); i >= 0 {
			if nl := bytes.IndexByte(pending[i:], '\n'); nl >= 0 {
				w.Write(pending[:i])
				close(ready)
				w.Write(pending[i+nl+1:])
				io.CopyBuffer(w, r, buf)
				return
			}
		} else {
			keep := partialSuffix(pending, m)
			w.Write(pending[:len(pending)-keep])
			pending = append(pending[:0], pending[len(pending)-keep:]...)
		}
		if err != nil {
			w.Write(pending)
			return
		}
	}
}

// partialSuffix is the length of the longest end of b that begins m.
func partialSuffix(b, m []byte) int {
	for k := min(len(b), len(m)-1); k > 0; k-- {
		if bytes.HasPrefix(m, b[len(b)-k:]) {
			return k
		}
	}
	return 0
}

func newMarker() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make the ready marker: %w", err)
	}
	return "rolecall-ssh-ready-" + hex.EncodeToString(b), nil
}

// exitCode is ssh's exit status, 128+n for a signal n.
func exitCode(cmd *exec.Cmd, err error) int {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 255
	}
	st := cmd.ProcessState
	if st == nil {
		return 255
	}
	if code := st.ExitCode(); code >= 0 {
		return code
	}
	return signalCode(st)
}

// sessionIO is what stands between the user and ssh: ssh's input and
// output (pipes, or a pseudo-terminal), and the copy of the user's input.
type sessionIO struct {
	in      io.WriteCloser // ssh's input
	out     io.Reader      // ssh's output
	child   []*os.File     // ssh's ends, closed here once it has started
	closers []func()
	input   sync.WaitGroup // the copy of the user's input
	passing bool
	eofIn   bool // the end of the user's input closes ssh's (pipes; not a terminal)
	stop    func()
	stdin   *os.File
}

func (s *sessionIO) openPipes(cmd *exec.Cmd) error {
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	s.in, s.out, s.child, s.eofIn = inW, outR, []*os.File{inR, outW}, true
	s.closers = append(s.closers, func() { inW.Close(); outR.Close() })
	cmd.Stdin, cmd.Stdout = inR, outW
	return nil
}

// pass starts copying the user's input to ssh (copy false: none, and ssh's
// input is closed, as -n has it).
func (s *sessionIO) pass(stdin *os.File, copy bool) {
	if s.passing {
		return
	}
	s.passing = true
	if !copy || stdin == nil {
		s.in.Close()
		return
	}
	r, stop := interruptible(stdin)
	s.stop, s.stdin = stop, stdin
	s.input.Add(1)
	go func() {
		defer s.input.Done()
		io.Copy(s.in, r)
		if r != stdin {
			r.Close()
		}
		if s.eofIn {
			s.in.Close() // the end of the user's input: ssh sends EOF
		}
	}()
}

// stopInput ends the copy of the user's input (ssh has exited).
func (s *sessionIO) stopInput() {
	if s.stop != nil {
		s.stop()
	}
	s.input.Wait()
	if s.stdin != nil {
		restoreBlocking(s.stdin)
	}
}

func (s *sessionIO) closeChild() {
	for _, f := range s.child {
		f.Close()
	}
	s.child = nil
}

func (s *sessionIO) close() {
	s.closeChild()
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}
