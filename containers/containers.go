// Package containers is the one-time host set-up through which containers
// reach rolecall the way ECS tasks reach the ECS agent on an EC2 instance:
// a TCP connection to 169.254.170.2:80 arriving on a container interface
// (the Docker bridge, or a bridge or veth the user names) is DNATed to
// rolecall's loopback listener, and route_localnet on that interface lets
// the kernel deliver it there. Containers then need only
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/<grant ID>,
// which every AWS SDK resolves against http://169.254.170.2 (the one
// plain-HTTP address besides loopback that they all accept).
//
// No address is added to the host: the DNAT happens in PREROUTING, before
// routing, so 169.254.170.2 needs no owner. What the set-up changes is
// runtime state only (iptables rules, per-interface sysctls, a record in
// /run): a reboot removes all of it, and Off removes it at once. It needs
// root; rolecall itself never runs as root.
//
// route_localnet alone would let a container send packets to any service
// of the host bound to 127.0.0.1 (the hole of CVE-2020-8558): the set-up
// also drops, on those interfaces, every packet to 127.0.0.0/8 that the
// set-up's DNAT did not send there.
package containers

import (
	"errors"
	"fmt"
	"net"
)

// Address is where containers reach rolecall, as the ECS agent's.
const Address = "169.254.170.2"

// DefaultInterface is the Docker bridge.
const DefaultInterface = "docker0"

// Host names one set-up: the comment that marks each of its rules, so
// that Off finds them all (and only them), and the file that records it.
type Host struct {
	Comment   string
	StatePath string
}

// System is rolecall's set-up. Its record holds the interfaces, the port,
// and each interface's route_localnet before it; /run is emptied at boot,
// as the rules and sysctls are.
var System = Host{Comment: "rolecall-containers", StatePath: "/run/rolecall-containers.json"}

// Setup is what On sets up.
type Setup struct {
	// Interfaces the containers' packets arrive on.
	Interfaces []string `json:"interfaces"`
	// Port is rolecall's loopback listener port.
	Port int `json:"port"`
	// RouteLocalnet is each interface's route_localnet before On.
	RouteLocalnet map[string]string `json:"route_localnet"`
}

// ErrNeedsRoot: the set-up changes the host's network.
var ErrNeedsRoot = errors.New("needs root")

// ErrNoInterface: an interface named does not exist (or none was named
// and there is no Docker bridge).
var ErrNoInterface = errors.New("no such interface")

// Interfaces returns the interfaces to set up: those named, or the Docker
// bridge when none is; each must exist.
func Interfaces(named []string) ([]string, error) {
	if len(named) == 0 {
		if _, err := net.InterfaceByName(DefaultInterface); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNoInterface, DefaultInterface)
		}
		return []string{DefaultInterface}, nil
	}
	for _, n := range named {
		if !validName(n) {
			return nil, fmt.Errorf("%w: %q", ErrNoInterface, n)
		}
		if _, err := net.InterfaceByName(n); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNoInterface, n)
		}
	}
	return named, nil
}

// validName: an interface name as the kernel allows it (no '/', which
// would leave /proc/sys/net/ipv4/conf).
func validName(n string) bool {
	if n == "" || len(n) > 15 || n == "." || n == ".." {
		return false
	}
	for _, r := range n {
		if r == '/' || r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// On sets up interfaces for port (replacing an earlier set-up of h's) and
// returns what it did.
func (h Host) On(interfaces []string, port int) (Setup, error) {
	if port <= 0 || port > 65535 {
		return Setup{}, fmt.Errorf("containers on: port %d out of range", port)
	}
	return h.on(interfaces, port)
}

// Off removes h's set-up: every rule marked with its comment, and each
// interface's route_localnet as it was. It is not an error when nothing
// is set up.
func (h Host) Off() error { return h.off() }

// Status returns h's set-up in force (ok false: none) and the rules of
// h's that the firewall holds.
func (h Host) Status() (s Setup, ok bool, rules []string, err error) { return h.status() }
