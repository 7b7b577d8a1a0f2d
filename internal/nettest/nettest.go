// Package nettest makes what stands in for a container in tests: a network
// namespace behind a veth pair, its default route through the host end.
// It needs root and iproute2; everything it makes is removed when the test
// ends, also when it fails.
package nettest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// Namespace is a network namespace reached from the host through a veth
// pair: HostIf (HostIP) on the host, PeerIP inside.
type Namespace struct {
	Name   string
	HostIf string
	HostIP string
	PeerIP string
}

// New makes a namespace on the subnet 10.231.<subnet>.0/24 (each test
// picks its own), or skips (fails under ROLECALL_REQUIRE_ALL) without
// root or iproute2.
func New(t testing.TB, subnet int) *Namespace {
	t.Helper()
	desktoptest.LinuxOnly(t, "a network namespace stands in for a container")
	desktoptest.SkipShort(t, "makes a network namespace")
	if os.Getuid() != 0 {
		desktoptest.SkipOrFail(t, "this test makes a network namespace and needs root: sudo go test -run "+t.Name())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		desktoptest.SkipOrFail(t, "ip is missing: sudo apt-get install iproute2")
	}
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, subnet)
	n := &Namespace{
		Name: "rolecall-" + id, HostIf: "rch" + id,
		HostIP: fmt.Sprintf("10.231.%d.1", subnet), PeerIP: fmt.Sprintf("10.231.%d.2", subnet),
	}
	peer := "rcc" + id
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.Name).Run()
		exec.Command("ip", "link", "del", n.HostIf).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", n.Name},
		{"link", "add", n.HostIf, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", n.Name},
		{"addr", "add", n.HostIP + "/24", "dev", n.HostIf},
		{"link", "set", n.HostIf, "up"},
		{"netns", "exec", n.Name, "ip", "addr", "add", n.PeerIP + "/24", "dev", peer},
		{"netns", "exec", n.Name, "ip", "link", "set", peer, "up"},
		{"netns", "exec", n.Name, "ip", "link", "set", "lo", "up"},
		{"netns", "exec", n.Name, "ip", "route", "add", "default", "via", n.HostIP},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return n
}

// Command is name with args run inside the namespace.
func (n *Namespace) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}
