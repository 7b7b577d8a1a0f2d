package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/sshtest"
	"golang.org/x/sys/unix"
)

// The secret of these tests: obviously fake, and long enough to be found
// anywhere it leaks.
const testSecret = "rolecall-test-secret-EXAMPLE-0123456789abcdefghijklmnopq"

// getURI is a remote command that GETs the endpoint the way an SDK does,
// reading both variables from its environment (so neither stands on its
// command line), and prints the answer.
const getURI = `python3 -c "import os,urllib.request as u; r=u.Request(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'], headers={'Authorization': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']}); print(u.urlopen(r).read().decode())"`

// target stands where rolecall's listener stands: it answers every GET
// with what it was asked, so the test sees what came through the forward.
type target struct {
	port int
	mu   sync.Mutex
	seen []string // "Host Authorization path"
}

func startTarget(t *testing.T) *target {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{port: l.Addr().(*net.TCPAddr).Port}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.seen = append(tg.seen, r.Host+" "+r.Header.Get("Authorization")+" "+r.URL.Path)
		tg.mu.Unlock()
		fmt.Fprintf(w, "served %s", r.URL.Path)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return tg
}

func (tg *target) requests() []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]string(nil), tg.seen...)
}

// runSession runs a session as the test's "laptop user" to u on the rig, with
// stdin from in, and returns its exit status, error and output.
func runSession(t *testing.T, srv *sshtest.Server, tg *target, u sshtest.User, in string, mod func(*Session), argv ...string) (code int, out, errOut string, err error) {
	t.Helper()
	a, err := ParseArgs(append(append(srv.ClientArgs(), u.Name+"@127.0.0.1"), argv...))
	if err != nil {
		t.Fatal(err)
	}
	inFile := filepath.Join(t.TempDir(), "stdin")
	os.WriteFile(inFile, []byte(in), 0o600)
	f, err := os.Open(inFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stdout, stderr bytes.Buffer
	s := &Session{Args: a, Endpoint: fmt.Sprintf("http://127.0.0.1:%d/slot/dev", tg.port), Secret: testSecret, Stdin: f, Stdout: &stdout, Stderr: &stderr}
	if mod != nil {
		mod(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, err = s.Run(ctx)
	return code, stdout.String(), stderr.String(), err
}

func TestSessionEndToEnd(t *testing.T) {
	srv := sshtest.Start(t)
	tg := startTarget(t)
	user1 := srv.Users[0]

	t.Run("command", func(t *testing.T) {
		var port int
		code, out, errOut, err := runSession(t, srv, tg, user1, "", func(s *Session) {
			s.Forwarded = func(p int) { port = p }
		}, "--", getURI)
		if err != nil || code != 0 || strings.TrimSpace(out) != "served /slot/dev" {
			t.Fatalf("exit %d, %v; stdout %q; stderr %q\nsshd:\n%s", code, err, out, errOut, srv.Log())
		}
		want := fmt.Sprintf("127.0.0.1:%d %s /slot/dev", port, testSecret)
		if got := tg.requests(); port == 0 || len(got) != 1 || got[0] != want {
			t.Errorf("requests through the forward: %q; want [%q]", got, want)
		}
		if strings.Contains(errOut, "Allocated port") || strings.Contains(out, "rolecall-ssh-ready") {
			t.Errorf("rolecall's own lines were shown: stdout %q, stderr %q", out, errOut)
		}
	})

	t.Run("exit status and input", func(t *testing.T) {
		code, out, _, err := runSession(t, srv, tg, user1, "line one\nline two\n", nil, "--", "cat; exit 7")
		if err != nil || code != 7 || out != "line one\nline two\n" {
			t.Errorf("exit %d, %v, stdout %q; want 7 and the input back", code, err, out)
		}
		code, out, _, err = runSession(t, srv, tg, user1, "never read\n", nil, "-n", "--", "cat; echo done")
		if err != nil || code != 0 || out != "done\n" {
			t.Errorf("-n: exit %d, %v, stdout %q; want no input", code, err, out)
		}
	})

	t.Run("a RemoteCommand of the user's config gives way", func(t *testing.T) {
		code, out, errOut, err := runSession(t, srv, tg, user1, "", nil, "-o", "RemoteCommand=echo from-config", "--", "echo from-command")
		if err != nil || code != 0 || out != "from-command\n" {
			t.Errorf("exit %d, %v, stdout %q, stderr %q", code, err, out, errOut)
		}
	})

	t.Run("shell words", func(t *testing.T) {
		code, out, _, err := runSession(t, srv, tg, user1, "", nil, "--", "printf", "'%s|'", `"a b"`, `'it'"'"'s'`, "$((6*7))", "!x")
		if err != nil || code != 0 || out != "a b|it's|42|!x|" {
			t.Errorf("exit %d, %v, stdout %q", code, err, out)
		}
	})

	t.Run("terminal session sees the variables, not the secret", func(t *testing.T) {
		in := "echo URI=$AWS_CONTAINER_CREDENTIALS_FULL_URI; test -n \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\" && echo token-set; " +
			"test -t 0 && echo on-a-tty; exit\n"
		code, out, errOut, err := runSession(t, srv, tg, user1, in, nil, "-tt")
		if err != nil || code != 0 {
			t.Fatalf("exit %d, %v; stdout %q; stderr %q", code, err, out, errOut)
		}
		for _, want := range []string{"URI=http://127.0.0.1:", "/slot/dev\r\n", "token-set", "on-a-tty"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, testSecret) || strings.Contains(errOut, testSecret) {
			t.Errorf("the secret was echoed:\n%s", out)
		}
	})

	t.Run("no command line holds the secret", func(t *testing.T) {
		var leaks []string
		var port int
		code, out, _, err := runSession(t, srv, tg, user1, "", func(s *Session) {
			s.Forwarded = func(p int) { port = p }
		}, "--", "sleep 1; ps -eo args; "+getURI)
		// While the session ran, every process of the machine (both sides
		// here) was listed; the secret must be in none of their cmdlines.
		if strings.Contains(out, testSecret) {
			leaks = append(leaks, "remote ps")
		}
		if err != nil || code != 0 || port == 0 || !strings.Contains(out, "rolecall-ssh") {
			t.Fatalf("exit %d, %v; stdout %q", code, err, out)
		}
		if len(leaks) > 0 {
			t.Errorf("the secret stood on a command line: %v\n%s", leaks, out)
		}
	})

	t.Run("forward refused", func(t *testing.T) {
		_, _, errOut, err := runSession(t, srv, tg, srv.Users[1], "", nil, "--", "true")
		var p *creds.Problem
		if !errors.As(err, &p) || p.Text != creds.SSHForwardRefused {
			t.Errorf("error %v (stderr %q); want the refused forward's text", err, errOut)
		}
	})

	t.Run("remote port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken := l.Addr().(*net.TCPAddr).Port
		_, _, errOut, err := runSession(t, srv, tg, user1, "", func(s *Session) { s.RemotePort = taken }, "--", "true")
		if err == nil || err.Error() != creds.Say(creds.SSHPortTaken, taken, user1.Name+"@127.0.0.1") {
			t.Errorf("error %v (stderr %q); want the taken port's text", err, errOut)
		}
	})

	t.Run("ssh fails", func(t *testing.T) {
		code, _, errOut, err := runSession(t, srv, tg, sshtest.User{Name: "nobody-here"}, "", nil, "--", "true")
		var p *creds.Problem
		if !errors.As(err, &p) || p.Text != creds.SSHFailed || code != 255 || !strings.Contains(errOut, "Permission denied") {
			t.Errorf("exit %d, error %v, stderr %q; want ssh's own message and the failed text", code, err, errOut)
		}
	})

	t.Run("no ssh", func(t *testing.T) {
		_, _, _, err := runSession(t, srv, tg, user1, "", func(s *Session) { s.SSH = "ssh-not-installed-" + strconv.Itoa(os.Getpid()) }, "--", "true")
		var p *creds.Problem
		if !errors.As(err, &p) || p.Text != creds.SSHMissing {
			t.Errorf("error %v; want the missing ssh text", err)
		}
	})
}

// TestSessionOnTerminal: from a terminal and with no command, as a person
// runs it, ssh gets a pseudo-terminal of rolecall's: the login shell on
// the remote has a terminal of the user's size, the variables and no
// echo of the secret, and the user's terminal is given back as it was.
func TestSessionOnTerminal(t *testing.T) {
	srv := sshtest.Start(t)
	tg := startTarget(t)
	screen, term, err := openPTYPair()
	if err != nil {
		t.Fatal(err)
	}
	defer screen.Close()
	defer term.Close()
	if err := unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 31, Col: 97}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseArgs(append(srv.ClientArgs(), srv.Users[0].Name+"@127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{Args: a, Endpoint: fmt.Sprintf("http://127.0.0.1:%d/", tg.port), Secret: testSecret, Stdin: term, Stdout: term, Stderr: term}
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := s.Run(context.Background())
		done <- result{code, err}
	}()

	var shown bytes.Buffer
	buf := make([]byte, 4096)
	waitFor := func(want string) {
		t.Helper()
		for !strings.Contains(shown.String(), want) {
			screen.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, err := screen.Read(buf)
			shown.Write(buf[:n])
			if err != nil {
				t.Fatalf("no %q on the screen (%v):\n%s", want, err, shown.String())
			}
		}
	}
	waitFor("$ ") // the remote login shell's prompt
	// Keys as a person types them: Enter is a carriage return.
	screen.WriteString("echo URI=$AWS_CONTAINER_CREDENTIALS_FULL_URI; stty size; test -n \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\" && echo token-set\r")
	waitFor("\ntoken-set\r\n") // the output, not the echo of the line
	screen.WriteString("exit 3\r")
	r := <-done
	if r.err != nil || r.code != 3 {
		t.Errorf("exit %d, %v; want 3", r.code, r.err)
	}
	for _, want := range []string{"URI=http://127.0.0.1:", "31 97\r\n"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("the screen lacks %q:\n%s", want, shown.String())
		}
	}
	if strings.Contains(shown.String(), testSecret) || strings.Contains(shown.String(), "rolecall-ssh-ready") {
		t.Errorf("the screen shows rolecall's own lines:\n%s", shown.String())
	}
	after, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	if err != nil || after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("the terminal was not given back as it was: %+v, %v; was %+v", after, err, before)
	}
	if fl, err := unix.FcntlInt(term.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("the terminal was left non-blocking")
	}
}
