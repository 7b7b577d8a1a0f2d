package server

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TestOtherUserFromHostAddressRefused: another local user cannot pass for
// a container by connecting to the loopback listener from a non-loopback
// address of this host (before, any connection from a non-loopback source
// skipped the peer check, and nobody read a grant's credentials at
// /v2/credentials/ with 200).
func TestOtherUserFromHostAddressRefused(t *testing.T) {
	setpriv := otherUserRig(t)
	// A documentation address (TEST-NET-1) on the loopback interface,
	// removed again however the test ends.
	const addr = "192.0.2.77"
	if out, err := exec.Command("ip", "addr", "add", addr+"/32", "dev", "lo").CombinedOutput(); err != nil {
		skipOrFail(t, "an address on lo (iproute2, root): "+err.Error()+": "+string(out)+"; sudo apt-get install iproute2")
	}
	t.Cleanup(func() { exec.Command("ip", "addr", "del", addr+"/32", "dev", "lo").Run() })
	rig := newGrantRig(t)
	s := newTestServer(t, func(o *Options) { o.Source = rig.manager; o.Grants = rig.store; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_, port, _ := net.SplitHostPort(s.Addr().String())
	py := `import socket,sys
c=socket.socket(); c.bind((sys.argv[2],0)); c.connect(("127.0.0.1",int(sys.argv[1])))
c.sendall(sys.stdin.read().encode()); c.settimeout(10); sys.stdout.write(c.recv(65536).decode())`
	req := "GET /v2/credentials/" + rig.ide + " HTTP/1.1\r\nHost: 169.254.170.2\r\nConnection: close\r\n\r\n"
	run := func(asNobody bool) string {
		args := []string{"/usr/bin/python3", "-c", py, port, addr}
		if asNobody {
			args = append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)
		} else {
			args = args[1:]
		}
		name := setpriv
		if !asNobody {
			name = "/usr/bin/python3"
		}
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(req)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client from %s (nobody %v): %v\n%s", addr, asNobody, err, out)
		}
		return string(out)
	}
	if out := run(true); !strings.HasPrefix(out, "HTTP/1.1 403") || strings.Contains(out, "AccessKeyId") {
		t.Errorf("nobody from %s with a grant's ID: want 403, got\n%s", addr, out)
	}
	// The user's own process from that address is a host process of the
	// right user: it passes the peer check and reaches the grant's route.
	if out := run(false); !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Errorf("the user's own process from %s with a grant's ID: want 200, got\n%s", addr, out)
	}
}
