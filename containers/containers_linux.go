package containers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// rules are the iptables rules for one interface and port, each as
// (table, chain, rule spec).
func (h Host) rules(iface string, port int) [][]string {
	mark := []string{"-m", "comment", "--comment", h.Comment}
	return [][]string{
		append([]string{"nat", "PREROUTING", "-i", iface, "-d", Address + "/32", "-p", "tcp", "--dport", "80"},
			append(mark, "-j", "DNAT", "--to-destination", "127.0.0.1:"+strconv.Itoa(port))...),
		// route_localnet's guard: on this interface, nothing reaches
		// 127.0.0.0/8 but what the DNAT above sent there.
		append([]string{"filter", "INPUT", "-i", iface, "-d", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "DNAT"},
			append(mark, "-j", "DROP")...),
	}
}

func (h Host) on(interfaces []string, port int) (Setup, error) {
	if os.Geteuid() != 0 {
		return Setup{}, ErrNeedsRoot
	}
	prev, had, err := h.readState()
	if err != nil {
		return Setup{}, err
	}
	// An earlier set-up's rules go first; its record keeps the
	// route_localnet values from before any set-up.
	if err := h.removeRules(); err != nil {
		return Setup{}, err
	}
	s := Setup{Interfaces: interfaces, Port: port, RouteLocalnet: map[string]string{}}
	for _, i := range interfaces {
		if v, ok := prev.RouteLocalnet[i]; had && ok {
			s.RouteLocalnet[i] = v
			continue
		}
		v, err := os.ReadFile(sysctlPath(i))
		if err != nil {
			return Setup{}, fmt.Errorf("containers on: %w", err)
		}
		s.RouteLocalnet[i] = strings.TrimSpace(string(v))
	}
	// Interfaces of the earlier set-up that this one drops get their
	// value back.
	if had {
		for i, v := range prev.RouteLocalnet {
			if _, kept := s.RouteLocalnet[i]; !kept {
				os.WriteFile(sysctlPath(i), []byte(v), 0o644)
			}
		}
	}
	// The record first: an interrupted set-up is still undone by Off.
	if err := h.writeState(s); err != nil {
		return Setup{}, err
	}
	for _, i := range interfaces {
		for _, r := range h.rules(i, port) {
			if err := iptables(append([]string{"-t", r[0], "-I", r[1]}, r[2:]...)...); err != nil {
				h.off()
				return Setup{}, fmt.Errorf("containers on: %w", err)
			}
		}
		if err := os.WriteFile(sysctlPath(i), []byte("1"), 0o644); err != nil {
			h.off()
			return Setup{}, fmt.Errorf("containers on: route_localnet of %s: %w", i, err)
		}
	}
	return s, nil
}

func (h Host) off() error {
	if os.Geteuid() != 0 {
		return ErrNeedsRoot
	}
	prev, had, err := h.readState()
	if err != nil {
		return err
	}
	if err := h.removeRules(); err != nil {
		return err
	}
	var errs []error
	if had {
		for i, v := range prev.RouteLocalnet {
			err := os.WriteFile(sysctlPath(i), []byte(v), 0o644)
			if err != nil && !errors.Is(err, fs.ErrNotExist) { // an interface gone took its sysctl along
				errs = append(errs, fmt.Errorf("route_localnet of %s: %w", i, err))
			}
		}
	}
	if err := os.Remove(h.StatePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("containers off: %w", err)
	}
	return nil
}

func (h Host) status() (Setup, bool, []string, error) {
	if os.Geteuid() != 0 {
		return Setup{}, false, nil, ErrNeedsRoot // iptables -S needs it
	}
	s, had, err := h.readState()
	if err != nil {
		return Setup{}, false, nil, err
	}
	rs, err := h.ourRules()
	return s, had, rs, err
}

// ourRules lists the rules marked with h.Comment, in `iptables -S` form
// with their table.
func (h Host) ourRules() ([]string, error) {
	var out []string
	for _, table := range []string{"nat", "filter"} {
		b, err := exec.Command("iptables", "-w", "-t", table, "-S").Output()
		if err != nil {
			return nil, fmt.Errorf("iptables -t %s -S: %w", table, runError(err))
		}
		for _, line := range strings.Split(string(b), "\n") {
			if marked(line, h.Comment) {
				out = append(out, "-t "+table+" "+line)
			}
		}
	}
	return out, nil
}

// marked: the rule line carries exactly the comment (not one it is the
// start of).
func marked(line, comment string) bool {
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "--comment" && strings.Trim(f[i+1], `"`) == comment {
			return true
		}
	}
	return false
}

// removeRules deletes every rule marked with h.Comment.
func (h Host) removeRules() error {
	rs, err := h.ourRules()
	if err != nil {
		return err
	}
	for _, r := range rs {
		args := splitRule(r)
		// "-t TABLE -A CHAIN ..." -> "-t TABLE -D CHAIN ..."
		if len(args) < 4 || args[2] != "-A" {
			continue
		}
		args[2] = "-D"
		if err := iptables(args...); err != nil {
			return fmt.Errorf("remove rule %q: %w", r, err)
		}
	}
	return nil
}

// splitRule splits an `iptables -S` line; quoted words (the comment) are
// ours and hold no quote.
func splitRule(line string) []string {
	var out []string
	for _, f := range strings.Fields(line) {
		out = append(out, strings.Trim(f, `"`))
	}
	return out
}

func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		if len(bytes.TrimSpace(out)) > 0 {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		}
		return fmt.Errorf("iptables %s: %w", strings.Join(args, " "), runError(err))
	}
	return nil
}

func runError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(bytes.TrimSpace(ee.Stderr)) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%w (install it: sudo apt-get install iptables)", err)
	}
	return err
}

func sysctlPath(iface string) string {
	return filepath.Join("/proc/sys/net/ipv4/conf", iface, "route_localnet")
}

func (h Host) readState() (Setup, bool, error) {
	b, err := os.ReadFile(h.StatePath)
	if errors.Is(err, fs.ErrNotExist) {
		return Setup{}, false, nil
	}
	if err != nil {
		return Setup{}, false, fmt.Errorf("read %s: %w", h.StatePath, err)
	}
	var s Setup
	if err := json.Unmarshal(b, &s); err != nil {
		return Setup{}, false, fmt.Errorf("read %s: %w (remove it, then run the set-up again)", h.StatePath, err)
	}
	return s, true, nil
}

func (h Host) writeState(s Setup) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(h.StatePath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", h.StatePath, err)
	}
	return nil
}
