package remote

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// supported: the pseudo-terminal between the user's terminal and ssh is
// built for Linux.
const supported = true

// diesWithUs makes ssh end when rolecall does, however it ends (kill -9
// included): the grant is gone by then, and the forward should go too.
// SIGKILL, because ssh keeps any other signal its parent ignored (under
// nohup, SIGHUP) and then outlives rolecall; the remote sshd ends the
// session and the forward when the connection drops.
func diesWithUs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// openPTY gives ssh a pseudo-terminal of rolecall's as its terminal: ssh
// still sees a terminal (raw mode, window size, escape character,
// prompts), and rolecall can write the endpoint to it once the bootstrap
// has turned the remote echo off. The user's terminal is put in raw mode
// (the pseudo-terminal does the line editing of ssh's prompts) and its
// window size follows to the pseudo-terminal.
func (s *sessionIO) openPTY(cmd *exec.Cmd, term *os.File) error {
	master, slave, err := openPTYPair()
	if err != nil {
		return err
	}
	tfd := int(term.Fd())
	saved, err := unix.IoctlGetTermios(tfd, unix.TCGETS)
	if err != nil {
		master.Close()
		slave.Close()
		return err
	}
	s.in, s.out, s.child = master, master, []*os.File{slave}
	s.closers = append(s.closers, func() { master.Close() })
	cmd.Stdin, cmd.Stdout = slave, slave
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0

	s.resize(tfd, master)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-winch:
				s.resize(tfd, master)
			case <-done:
				return
			}
		}
	}()
	s.closers = append(s.closers, func() { signal.Stop(winch); close(done); <-finished })

	raw := *saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(tfd, unix.TCSETS, &raw); err != nil {
		return err
	}
	s.closers = append(s.closers, func() { unix.IoctlSetTermios(tfd, unix.TCSETS, saved) })
	// Before the session, the user answers ssh's prompts through it.
	s.pass(term, true)
	return nil
}

// openPTYPair opens a new pseudo-terminal: its master side and its
// terminal.
func openPTYPair() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var n int
	if err := control(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return err
		}
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN)
		return err
	}); err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// resize gives the pseudo-terminal the size of the user's terminal (the
// kernel then signals ssh, which tells the remote).
func (s *sessionIO) resize(tfd int, master *os.File) {
	ws, err := unix.IoctlGetWinsize(tfd, unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	control(master, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) })
}

// control runs fn on f's descriptor without making it blocking.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// interruptible is f on a descriptor of its own in non-blocking mode, so
// that a read waiting for the user can be ended (SetReadDeadline); stop
// ends it and puts f back in blocking mode (the mode belongs to the open
// file that the user's shell shares).
func interruptible(f *os.File) (r *os.File, stop func()) {
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return f, func() {}
	}
	unix.SetNonblock(fd, true)
	r = os.NewFile(uintptr(fd), f.Name())
	return r, func() {
		if err := r.SetReadDeadline(time.Now()); err != nil && !errors.Is(err, os.ErrNoDeadline) {
			return
		}
	}
}

// restoreBlocking puts f back in blocking mode after interruptible.
func restoreBlocking(f *os.File) { unix.SetNonblock(int(f.Fd()), false) }

func signalCode(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return 255
}
