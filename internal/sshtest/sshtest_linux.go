//go:build linux

package sshtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// User is one throwaway account on the stand-in remote host.
type User struct {
	Name string
	Home string
	UID  string
}

// Server is sshd on 127.0.0.1:Port. Users[0] may forward ports; Users[1]
// may not (`AllowTcpForwarding no`), so that a refused forward has a
// destination.
type Server struct {
	Port  int
	Users [2]User
	Dir   string // the private directory: sshd_config, keys, known_hosts, sshd's log
	key   string

	logFile string
}

// Start starts sshd with two fresh accounts. It skips under -short, and
// skips (fails under ROLECALL_REQUIRE_ALL) without root or sshd.
func Start(t testing.TB) *Server {
	t.Helper()
	desktoptest.LinuxOnly(t, "the sshd stand-in for a remote host")
	desktoptest.SkipShort(t, "starts sshd and adds users")
	if os.Getuid() != 0 {
		desktoptest.SkipOrFail(t, "the sshd rig needs root (useradd, sshd): run this test as root, as CI does")
	}
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/sshd"); err2 != nil {
			desktoptest.SkipOrFail(t, "sshd is missing: sudo apt-get install openssh-server")
		}
		sshd = "/usr/sbin/sshd"
	}
	for _, tool := range []string{"ssh", "ssh-keygen", "useradd", "userdel", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			desktoptest.SkipOrFail(t, tool+" is missing: sudo apt-get install openssh-client openssh-server passwd util-linux")
		}
	}
	dir, err := os.MkdirTemp("", "rolecall-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{Dir: dir, key: filepath.Join(dir, "client_key")}
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rolecall-test-host", "-f", filepath.Join(dir, "host_key"))
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rolecall-test-client", "-f", s.key)
	pub, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Users {
		s.Users[i] = addUser(t, pub)
	}
	// sshd wants its privilege separation directory; the package's
	// tmpfiles rule makes it at boot, which a container never had.
	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/sshd") })
	}
	s.Port = freePort(t)
	conf := filepath.Join(dir, "sshd_config")
	err = os.WriteFile(conf, fmt.Appendf(nil, `ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile none
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers %s %s
AllowTcpForwarding yes
PrintMotd no
Match User %s
	AllowTcpForwarding no
`, s.Port, filepath.Join(dir, "host_key"), s.Users[0].Name, s.Users[1].Name, s.Users[1].Name), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	hostPub, err := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	known := fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, strings.Join(strings.Fields(string(hostPub))[:2], " "))
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(known+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.logFile = filepath.Join(dir, "sshd.log")
	cmd := exec.Command(sshd, "-D", "-E", s.logFile, "-f", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port)); err == nil {
			c.Close()
			return s
		}
		select {
		case <-exited:
			t.Fatalf("sshd did not start:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen within 10 s:\n%s", s.Log())
		}
	}
}

// Log is what sshd logged so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

// ClientArgs are the ssh options that log in to this server with the test
// key and nothing of the user's own ssh configuration.
func (s *Server) ClientArgs() []string {
	return []string{"-F", "/dev/null", "-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + filepath.Join(s.Dir, "known_hosts"), "-o", "StrictHostKeyChecking=yes",
		"-p", fmt.Sprint(s.Port)}
}

// As runs name with args as u on the stand-in remote host (runuser), with
// a login's PATH and HOME.
func (s *Server) As(u User, name string, args ...string) *exec.Cmd {
	cmd := exec.Command("runuser", append([]string{"-u", u.Name, "--", name}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + u.Home, "USER=" + u.Name, "LANG=C.UTF-8"}
	cmd.Dir = u.Home
	return cmd
}

// addUser adds an account that logs in with the key pub only; it is
// removed, with its home and processes, when the test ends.
func addUser(t testing.TB, pub []byte) User {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "rcssh" + hex.EncodeToString(b)
	run(t, "useradd", "--create-home", "--shell", "/bin/sh", name)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		killProcesses(u.Uid)
		if out, err := exec.Command("userdel", "--remove", "--force", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	// "*": no password to log in with, but not a locked account (sshd
	// refuses locked ones even with a key).
	run(t, "usermod", "-p", "*", name)
	ssh := filepath.Join(u.HomeDir, ".ssh")
	if err := os.MkdirAll(ssh, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ssh, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "chown", "-R", name+":", ssh)
	return User{Name: name, Home: u.HomeDir, UID: u.Uid}
}

// killProcesses kills, by pid, every process whose real user is uid (what
// a session of a throwaway account left running).
func killProcesses(uid string) {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", d.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == uid {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
