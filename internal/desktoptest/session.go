// Package desktoptest starts a private desktop session for tests: its own
// D-Bus session bus (with nothing to activate, so tests are hermetic) and,
// on request, an unlocked gnome-keyring Secret Service on it. It is used by
// tests only and never linked into rolecall.
package desktoptest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// RequireAllEnv, when set (CI sets it), turns "package missing" skips into
// failures, so that CI always runs the desktop tests.
const RequireAllEnv = "ROLECALL_REQUIRE_ALL"

// SkipOrFail skips the test with why, or fails it under RequireAllEnv.
// Off Linux, a Debian install command in why is replaced by this system's.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	why = platformHint(why, runtime.GOOS)
	if os.Getenv(RequireAllEnv) != "" {
		t.Fatal(why + " (" + RequireAllEnv + " is set, so this is a failure)")
	}
	t.Skip(why)
}

// otherInstall is how to get, on Windows and macOS, what a skip message
// names as a Debian package.
var otherInstall = map[string]map[string]string{
	"sudo apt-get install awscli":         {"windows": "winget install Amazon.AWSCLI", "darwin": "brew install awscli"},
	"sudo apt-get install python3-boto3":  {"windows": "pip install boto3", "darwin": "pip3 install boto3"},
	"sudo apt-get install nodejs npm":     {"windows": "winget install OpenJS.NodeJS", "darwin": "brew install node"},
	"sudo apt-get install bash":           {"windows": "winget install Git.Git (Git Bash)", "darwin": "brew install bash"},
	"sudo apt-get install util-linux":     {},
	"sudo apt-get install iproute2":       {},
	"sudo apt-get install wl-clipboard":   {},
	"sudo apt-get install xclip":          {},
	"install the Debian package dbus":     {},
	"install the Debian package iproute2": {},
}

// platformHint rewrites the Debian install command in why for goos; one
// with no equivalent there is dropped, the tool being Linux's own.
func platformHint(why, goos string) string {
	if goos == "linux" {
		return why
	}
	for apt, other := range otherInstall {
		if strings.Contains(why, apt) {
			if cmd, ok := other[goos]; ok {
				return strings.Replace(why, apt, cmd, 1)
			}
			return strings.TrimSuffix(strings.TrimSuffix(strings.Replace(why, apt, "", 1), " "), ":") + " (Linux only)"
		}
	}
	return why
}

// LinuxOnly skips a test of something that exists on Linux only (a D-Bus
// desktop session, network namespaces, the peer lookup), saying so, on any
// other system: there it is no missing package but a platform fact.
func LinuxOnly(t testing.TB, what string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip(what + ": Linux only, not on " + runtime.GOOS)
	}
}

// SkipShort skips a test that starts processes or a desktop session under
// `go test -short` (`make check`); `make test` runs it.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip(what + ": skipped in -short mode (make check); make test runs it")
	}
}

const bareBus = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:tmpdir=%s</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>`

// Session is a private desktop session.
type Session struct {
	// Env holds the variables a process needs to live in the session:
	// DBUS_SESSION_BUS_ADDRESS and fresh XDG dirs.
	Env  []string
	Addr string
	Dir  string

	keyring     *os.Process // gnome-keyring-daemon, once started
	stopKeyring func()      // kills it and waits for it
}

// Start starts a bare session bus; it skips (or fails) when dbus-daemon is
// missing.
func Start(t testing.TB) *Session {
	t.Helper()
	LinuxOnly(t, "a private D-Bus desktop session (Secret Service, tray host, notifications)")
	SkipShort(t, "needs a private desktop session")
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		SkipOrFail(t, "dbus-daemon is missing: install the Debian package dbus")
	}
	dir, err := os.MkdirTemp("", "rolecall-desktop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(bareBus, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+cfg, "--nofork", "--print-address")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon gave no address: %v", err)
	}
	s := &Session{Addr: strings.TrimSpace(addr), Dir: dir}
	for _, d := range []string{"data", "config", "state", "cache", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s.Env = []string{
		"DBUS_SESSION_BUS_ADDRESS=" + s.Addr,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_STATE_HOME=" + filepath.Join(dir, "state"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
	}
	return s
}

// StartKeyring starts gnome-keyring's Secret Service on the session with a
// fresh login keyring, unlocked, and waits until it owns its bus name.
func (s *Session) StartKeyring(t testing.TB) {
	t.Helper()
	bin, err := exec.LookPath("gnome-keyring-daemon")
	if err != nil {
		SkipOrFail(t, "gnome-keyring-daemon is missing: install the Debian package gnome-keyring")
	}
	cmd := exec.Command(bin, "--foreground", "--unlock", "--components=secrets")
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Env = append(cmd.Env, "DISPLAY=", "WAYLAND_DISPLAY=")
	cmd.Stdin = strings.NewReader(KeyringPassword)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.stopKeyring = sync.OnceFunc(func() { cmd.Process.Kill(); cmd.Wait() })
	t.Cleanup(s.stopKeyring)
	s.keyring = cmd.Process
	s.WaitName(t, "org.freedesktop.secrets", 10*time.Second)
}

// RestartKeyring kills gnome-keyring-daemon (as a crash or a desktop
// restarting it would) and starts a new one on the same bus with the same
// login keyring, unlocked: a client's sessions on the old one are gone.
func (s *Session) RestartKeyring(t testing.TB) {
	t.Helper()
	if s.stopKeyring == nil {
		t.Fatal("no keyring started: call StartKeyring first")
	}
	s.stopKeyring()
	conn := s.connect(t)
	defer conn.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.freedesktop.secrets").Store(&has); err == nil && !has {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("org.freedesktop.secrets still owned 10 s after gnome-keyring-daemon was killed")
		}
	}
	s.StartKeyring(t)
}

// WaitName waits until name is owned on the session bus.
func (s *Session) WaitName(t testing.TB, name string, within time.Duration) {
	t.Helper()
	conn, err := dbus.Connect(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err == nil && has {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared on the session bus", name)
		}
	}
}

// Setenv puts the session's variables into this process's environment for
// the rest of the test.
func (s *Session) Setenv(t *testing.T) {
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}
