package containers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/nettest"
)

// TestOnOff does the set-up for a veth pair in front of a network
// namespace and checks, from inside: 169.254.170.2:80 reaches the
// loopback listener (seen from a non-loopback address, Host as sent); a
// direct packet to the host's 127.0.0.1 is dropped (the route_localnet
// guard); Off leaves no rule, sysctl or record behind.
func TestOnOff(t *testing.T) {
	ns := nettest.New(t, 81)
	if _, err := exec.LookPath("iptables"); err != nil {
		desktoptest.SkipOrFail(t, "iptables is missing: sudo apt-get install iptables")
	}
	// A set-up of the test's own: rolecall's (System) may be tested at
	// the same time by the root package, on another veth.
	h := Host{Comment: fmt.Sprintf("rolecall-test-%d", os.Getpid()), StatePath: filepath.Join(t.TempDir(), "setup.json")}
	sysctl := sysctlPath(ns.HostIf)
	localnetBefore := readFile(t, sysctl)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "remote=%s host=%s path=%s\n", r.RemoteAddr, r.Host, r.URL.Path)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	port := l.Addr().(*net.TCPAddr).Port

	t.Cleanup(func() { h.Off() })
	s, err := h.On([]string{ns.HostIf}, port)
	if err != nil {
		t.Fatal(err)
	}
	if s.RouteLocalnet[ns.HostIf] != localnetBefore {
		t.Errorf("recorded route_localnet %q, was %q", s.RouteLocalnet[ns.HostIf], localnetBefore)
	}
	if v := readFile(t, sysctl); v != "1" {
		t.Errorf("route_localnet of %s = %s after On", ns.HostIf, v)
	}
	got, ok, held, err := h.Status()
	if err != nil || !ok || got.Port != port || len(held) != 2 {
		t.Fatalf("Status = %+v %v %q %v", got, ok, held, err)
	}
	// On again (another port) replaces the set-up, keeps the value from
	// before the first one.
	if s, err = h.On([]string{ns.HostIf}, port); err != nil || s.RouteLocalnet[ns.HostIf] != localnetBefore {
		t.Fatalf("second On = %+v, %v", s, err)
	}
	if _, _, held, _ := h.Status(); len(held) != 2 {
		t.Errorf("rules after a second On: %q", held)
	}

	out := get(t, ns, Address, 80, "/v2/credentials/abc", "169.254.170.2")
	if !strings.Contains(out, "remote="+ns.PeerIP+":") || !strings.Contains(out, "host=169.254.170.2 ") || !strings.Contains(out, "path=/v2/credentials/abc") {
		t.Fatalf("request through the DNAT answered:\n%s", out)
	}

	// The guard: route 127.0.0.0/8 out of the namespace to the host and
	// connect to the host's 127.0.0.1 directly.
	for _, args := range [][]string{
		{"sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1"},
		{"ip", "route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local"},
		{"ip", "route", "del", "local", "127.0.0.1", "dev", "lo", "table", "local"},
		{"ip", "route", "add", "127.0.0.0/8", "via", ns.HostIP},
	} {
		if out, err := ns.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	direct := ns.Command("timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+strconv.Itoa(port))
	if direct.Run() == nil {
		t.Error("the namespace reached the host's 127.0.0.1 directly")
	}
	// The guard rule is what dropped it.
	counters, err := exec.Command("iptables", "-w", "-t", "filter", "-L", "INPUT", "-v", "-x", "-n").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -L: %v\n%s", err, counters)
	}
	dropped := false
	for _, line := range strings.Split(string(counters), "\n") {
		if f := strings.Fields(line); strings.Contains(line, "/* "+h.Comment+" */") && len(f) > 2 && f[2] == "DROP" && f[0] != "0" {
			dropped = true
		}
	}
	if !dropped {
		t.Errorf("the guard rule dropped nothing:\n%s", counters)
	}

	if err := h.Off(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(iptablesSave(t), "\n") {
		if marked(line, h.Comment) || strings.Contains(line, ns.HostIf) {
			t.Errorf("rule left after Off: %s", line)
		}
	}
	if v := readFile(t, sysctl); v != localnetBefore {
		t.Errorf("route_localnet of %s = %s after Off, was %s", ns.HostIf, v, localnetBefore)
	}
	if _, err := os.Stat(h.StatePath); !os.IsNotExist(err) {
		t.Errorf("%s left after Off: %v", h.StatePath, err)
	}
	if addrs, _ := exec.Command("ip", "-o", "addr").Output(); strings.Contains(string(addrs), Address) {
		t.Errorf("an address %s is on the host:\n%s", Address, addrs)
	}
	if err := h.Off(); err != nil {
		t.Errorf("Off with nothing set up: %v", err)
	}
}

// get sends one HTTP/1.0 GET from inside the namespace (bash's /dev/tcp:
// no client needed there) and returns the answer.
func get(t *testing.T, ns *nettest.Namespace, host string, port int, path, hostHeader string) string {
	t.Helper()
	script := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%d; printf 'GET %%s HTTP/1.0\r\nHost: %%s\r\n\r\n' "$0" "$1" >&3; timeout 10 cat <&3`, host, port)
	out, err := ns.Command("bash", "-c", script, path, hostHeader).CombinedOutput()
	if err != nil {
		t.Fatalf("GET %s from the namespace: %v\n%s", path, err, out)
	}
	return string(out)
}

func iptablesSave(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables-save").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save: %v\n%s", err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
