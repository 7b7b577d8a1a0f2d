package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// socketInode is the inode of the socket behind c, as /proc/self/fd shows.
func socketInode(t testing.TB, c net.Conn) uint64 {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var link string
	raw.Control(func(fd uintptr) {
		link, err = os.Readlink("/proc/self/fd/" + strconv.Itoa(int(fd)))
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
	if err != nil {
		t.Fatalf("fd link %q: %v", link, err)
	}
	return n
}

// openSockets opens n loopback connections (2n sockets) to a listener of
// its own, closed at the end of the test.
func openSockets(t testing.TB, network, addr string, n int) {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var conns []net.Conn
	for range n {
		c, err := net.Dial(network, l.Addr().String())
		if err != nil {
			t.Fatalf("socket %d of %d: %v", len(conns), n, err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
		for c := range accepted {
			c.Close()
		}
	})
}

// TestPeerLookupAmongThousands finds the uid and inode of one connection's
// client socket by its 4-tuple while thousands of other sockets are open,
// over netlink, for IPv4 and IPv6.
func TestPeerLookupAmongThousands(t *testing.T) {
	others := 3000
	if testing.Short() {
		others = 300
	}
	for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"}} {
		t.Run(tc.network, func(t *testing.T) {
			l, err := net.Listen(tc.network, tc.addr)
			if err != nil {
				t.Skipf("no %s loopback here: %v", tc.network, err)
			}
			defer l.Close()
			openSockets(t, tc.network, tc.addr, others/2)
			var conns []net.Conn
			for range 5 {
				c, err := net.Dial(tc.network, l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns = append(conns, c)
			}
			openSockets(t, tc.network, tc.addr, others/2)
			for i, c := range conns {
				// The server's view: local is the listener's end,
				// remote is the client's.
				client, server := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
				want := socketInode(t, c)
				uid, inode, err := sockDiag(client, server)
				if errors.Is(err, errNetlinkRefused) {
					desktoptest.SkipOrFail(t, "netlink sock_diag is refused on this system: "+err.Error())
				}
				if err != nil || uid != os.Getuid() || inode != want {
					t.Fatalf("conn %d: netlink = uid %d inode %d, %v; want uid %d inode %d", i, uid, inode, err, os.Getuid(), want)
				}
			}
			// A 4-tuple nobody holds (nothing listens on port 1) is not
			// found.
			client := conns[0].LocalAddr().(*net.TCPAddr)
			gone := &net.TCPAddr{IP: client.IP, Port: 1}
			if _, _, err := peerSocket(gone, client); err == nil {
				t.Error("lookup of a socket nobody holds succeeded")
			}
		})
	}
}

// TestAuditAttributesClientAtFirstRequest: the client process is found
// while the connection is new, not when the audit line is written: a
// client that has exited by then is still named.
func TestAuditAttributesClientAtFirstRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAudit(path, AuditOptions{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	a.owners.resolved = make(chan *connInfo, 1)
	s := newTestServer(t, func(o *Options) { o.Audit = a; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_, port, _ := net.SplitHostPort(s.Addr().String())
	// The client asks, reads the answer, then waits for its stdin to close
	// so that it is certainly gone before the audit line is written.
	script := `exec 3<>/dev/tcp/127.0.0.1/` + port + `; printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ` + testToken + `\r\n\r\n' >&3; read -r status <&3; echo "$status"; read -r _`
	cmd := exec.Command("/bin/bash", "-c", script)
	stdin, _ := cmd.StdinPipe()
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case ci := <-a.owners.resolved:
		if pid, _ := ci.process(); pid != cmd.Process.Pid {
			t.Errorf("resolved pid %d, want the client's %d", pid, cmd.Process.Pid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's connection was not resolved within 10 s")
	}
	stdin.Close()
	cmd.Wait()
	if !strings.HasPrefix(out.String(), "HTTP/1.1 200") {
		t.Fatalf("client got %q", out.String())
	}
	s.Close(context.Background())
	a.Close()
	entries, err := ReadAudit(path)
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries %+v, %v", entries, err)
	}
	if e := entries[0]; e.PID != cmd.Process.Pid || filepath.Base(e.Exe) != "bash" {
		t.Errorf("audit entry names pid %d exe %q, want the exited client %d (bash)", e.PID, e.Exe, cmd.Process.Pid)
	}
}

// TestAuditAttributesOneShotClientOnBusyMachine: a client that exits as
// soon as it has its answer, with hundreds of processes of the same user
// started after it and alive while it asks (a busy machine), is still
// named: its answer waits for the search.
func TestAuditAttributesOneShotClientOnBusyMachine(t *testing.T) {
	desktoptest.SkipShort(t, "starts 100 processes")
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAudit(path, AuditOptions{Every: time.Hour, Prompt: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, func(o *Options) { o.Audit = a; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_, port, _ := net.SplitHostPort(s.Addr().String())
	// The client starts, says so, waits for a line on stdin, connects,
	// asks, and exits as soon as the status line is in.
	script := `echo started; read -r _; exec 3<>/dev/tcp/127.0.0.1/` + port + `; printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ` + testToken + `\r\n\r\n' >&3; read -r status <&3; echo "$status"`
	cmd := exec.Command("/bin/bash", "-c", script)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("client: %q, %v", line, err)
	}
	// 100 processes of ours, started after the client and alive while it
	// asks, with 50 open files each: the search has 5,000 links to read
	// before it reaches the client.
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	var busy []*exec.Cmd
	t.Cleanup(func() {
		for _, c := range busy {
			c.Process.Kill()
			c.Wait()
		}
	})
	for range 100 {
		c := exec.Command("sleep", "60")
		for range 50 {
			c.ExtraFiles = append(c.ExtraFiles, devnull)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		busy = append(busy, c)
	}
	io.WriteString(stdin, "go\n")
	status, _ := out.ReadString('\n')
	cmd.Wait()
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("client got %q", status)
	}
	s.Close(context.Background())
	a.Close()
	entries, err := ReadAudit(path)
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries %+v, %v", entries, err)
	}
	if e := entries[0]; e.PID != cmd.Process.Pid || filepath.Base(e.Exe) != "bash" {
		t.Errorf("audit entry names pid %d exe %q, want the one-shot client %d (bash)", e.PID, e.Exe, cmd.Process.Pid)
	}
}

// BenchmarkPeerLookup is the peer check of one connection with 0 and
// 10,000 other sockets open on the machine, over netlink (the only lookup:
// the /proc/net/tcp scan it replaced cost what every socket costs).
func BenchmarkPeerLookup(b *testing.B) {
	for _, others := range []int{0, 10000} {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		if others > 0 {
			openSockets(b, "tcp4", "127.0.0.1:0", others/2)
		}
		client, server := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
		b.Run(fmt.Sprintf("others=%d/netlink", others), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := peerSocket(server, client); err != nil {
					b.Fatal(err)
				}
			}
		})
		c.Close()
		l.Close()
	}
}

// BenchmarkAuditAttribution runs short-lived curl clients, one request
// each, and reports the share of hand-outs whose audit line names the
// client's pid and executable.
func BenchmarkAuditAttribution(b *testing.B) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		desktoptest.SkipOrFail(b, "curl is missing: apt-get install curl")
	}
	path := filepath.Join(b.TempDir(), "audit.log")
	a, err := OpenAudit(path, AuditOptions{Every: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	s := newTestServer(b, func(o *Options) { o.Audit = a; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		out, err := exec.Command(curl, "-sf", "-H", "Authorization: "+testToken, s.URL()).CombinedOutput()
		if err != nil {
			b.Fatalf("curl: %v\n%s", err, out)
		}
		n++
	}
	s.Close(context.Background())
	a.Close()
	entries, err := ReadAudit(path)
	if err != nil {
		b.Fatal(err)
	}
	var total, named int64
	for _, e := range entries {
		total += e.Count
		if e.PID != 0 && filepath.Base(e.Exe) == "curl" {
			named += e.Count
		}
	}
	if total != int64(n) {
		b.Fatalf("%d hand-outs in the audit log, %d requests", total, n)
	}
	b.ReportMetric(100*float64(named)/float64(total), "attributed-%")
}

func TestSameUserOwnConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv := <-accepted
	defer srv.Close()
	if err := SameUser(srv.LocalAddr(), srv.RemoteAddr()); err != nil {
		t.Errorf("own connection refused: %v", err)
	}
	// Addresses of no socket cannot be vouched for.
	if err := SameUser(srv.LocalAddr(), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); err == nil {
		t.Error("a connection that does not exist was accepted")
	}
}

// TestNetlinkFailureDoesNotLatch: one lookup whose netlink socket cannot
// be opened (EMFILE: the process is out of descriptors for a moment)
// refuses that connection, since nobody can tell which user opened it
// and another user must not be let in; it neither lets the connection in
// nor turns the check into a scan of /proc/net/tcp. The next connection
// asks netlink again and is served.
func TestNetlinkFailureDoesNotLatch(t *testing.T) {
	real := netlinkSocket
	var calls, fail atomic.Int32
	netlinkSocket = func() (int, error) {
		calls.Add(1)
		if fail.Load() > 0 {
			return -1, unix.EMFILE
		}
		return real()
	}
	t.Cleanup(func() { netlinkSocket = real })
	s := newTestServer(t, func(o *Options) { o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	get := func() (int, string) {
		t.Helper()
		tr := &http.Transport{DisableKeepAlives: true} // one connection per request
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", s.URL(), nil)
		req.Header.Set("Authorization", testToken)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	fail.Store(1)
	if code, body := get(); code != http.StatusForbidden || !strings.Contains(body, "too many open files") {
		t.Fatalf("while netlink fails: %d %s, want 403 saying why", code, body)
	}
	fail.Store(0)
	before := calls.Load()
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("after the failure passed: %d %s, want 200", code, body)
	}
	if calls.Load() == before {
		t.Error("the next connection did not ask netlink again")
	}
	if s.RefusedConnections() != 1 {
		t.Errorf("refused %d connections, want 1", s.RefusedConnections())
	}
}
