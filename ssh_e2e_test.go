//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/internal/sshtest"
	"github.com/rolecall/rolecall/remote"
	"github.com/rolecall/rolecall/server/control"
)

// sshRig is a running rolecall serving dev (signed in to the fake
// Identity Center, credentials from moto's STS) and sshd standing in for
// a remote dev box.
type sshRig struct {
	srv    *sshtest.Server
	p      *serveProc
	port   string
	stsURL string
}

func startSSHRig(t *testing.T) *sshRig {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		skipOrFail(t, "the AWS CLI (aws) is missing: sudo apt-get install awscli")
	}
	srv := sshtest.Start(t)
	stsURL := moto(t)
	fake := fakeidc.New()
	t.Cleanup(fake.Close)
	fake.Accounts = []fakeidc.Account{{ID: "111111111111", Name: "dev", Roles: []string{"Admin"}, StartURL: fake.URL + "/start"}}
	fake.Mint = motoMint(t, stsURL)
	dir := t.TempDir()
	corpConfig(t, dir, fake.URL, "") // serveEnv points AWS_CONFIG_FILE at it
	pathEnv, _ := fakeBrowser(t, dir)
	env := serveEnv(dir, pathEnv, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus"),
		"AWS_ENDPOINT_URL_SSO_OIDC="+fake.URL, "AWS_ENDPOINT_URL_SSO="+fake.URL, "AWS_ENDPOINT_URL_STS="+stsURL)
	port := freePort(t)
	p := startServe(t, env, port)
	if out, err := p.verb("login", "--sso-session", "corp"); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	if out, err := p.verb("load", "--profile", "dev", "--slot"); err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	return &sshRig{srv: srv, p: p, port: port, stsURL: stsURL}
}

// remoteAWS is the remote command that asks moto's STS who the caller is,
// with the AWS CLI of the remote host.
func (r *sshRig) remoteAWS() []string {
	return []string{"aws", "--endpoint-url", r.stsURL, "--region", "us-east-1", "--output", "text", "sts", "get-caller-identity", "--query", "Arn"}
}

// remoteGet is a remote command (for runuser on the rig) that GETs url
// with token as the Authorization header (none when empty) and prints the
// status and body.
func remoteGet(url, token string) []string {
	return []string{"python3", "-c", `import sys, urllib.request as u, urllib.error as e
r = u.Request(sys.argv[1])
if len(sys.argv) > 2: r.add_header("Authorization", sys.argv[2])
try: print(200, u.urlopen(r).read().decode())
except e.HTTPError as x: print(x.code, x.read().decode())`, url, token}
}

// sshClients lists the ssh clients that run a bootstrap.
func sshClients() []string {
	var found []string
	for _, c := range cmdlinesWith("rolecall-ssh") {
		if _, args, _ := strings.Cut(c, ": "); strings.HasPrefix(args, "ssh ") || strings.Contains(args, "/ssh ") {
			found = append(found, c)
		}
	}
	return found
}

// cmdlinesWith lists the processes of this machine (both sides of the
// rig) whose command line holds s.
func cmdlinesWith(s string) []string {
	var found []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			found = append(found, d.Name()+": "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	return found
}

// rolecallSSH runs `rolecall ssh` (the built binary) with args, the rig's
// ssh options after the destination; it returns the exit status and both
// outputs.
func (r *sshRig) rolecallSSH(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(r.p.bin, append([]string{"ssh"}, args...)...)
	cmd.Env = r.p.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = time.Second
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Run()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return code, out.String(), errOut.String()
}

// to is the destination of user i and the rig's ssh options.
func (r *sshRig) to(i int, extra ...string) []string {
	return append(append([]string{r.srv.Users[i].Name + "@127.0.0.1"}, r.srv.ClientArgs()...), extra...)
}

// grant is the state of the ssh grant of user i's destination in `rolecall
// grant list` ("" when there is none).
func (r *sshRig) grant(t *testing.T, i int) string {
	t.Helper()
	out, err := r.p.verb("grant", "list", "--json")
	if err != nil {
		t.Fatalf("grant list: %v\n%s", err, out)
	}
	var grants []control.GrantInfo
	if err := json.Unmarshal([]byte(out), &grants); err != nil {
		t.Fatal(err)
	}
	state := ""
	for _, g := range grants {
		if g.Name == remote.GrantName(r.srv.Users[i].Name+"@127.0.0.1") && (state == "" || g.State == "active") {
			state = g.State
		}
	}
	return state
}

// held is a `rolecall ssh` whose remote command runs step by step: it
// runs what the test sends it through files in the remote home.
type held struct {
	r      *sshRig
	cmd    *exec.Cmd
	out    *syncBuffer
	errOut *syncBuffer
	home   string
}

// hold starts `rolecall ssh ... -- <loop>` to user i: the remote command
// waits for a file "next", runs the AWS CLI once for each, and ends at
// "stop".
func (r *sshRig) hold(t *testing.T, i int, flags ...string) *held {
	t.Helper()
	return r.holdUnder(t, nil, i, flags...)
}

// holdUnder is hold with rolecall started through the command wrap (nil:
// directly), as `nohup rolecall ssh …`.
func (r *sshRig) holdUnder(t *testing.T, wrap []string, i int, flags ...string) *held {
	t.Helper()
	u := r.srv.Users[i]
	loop := `touch ready; while [ ! -e stop ]; do if [ -e next ]; then rm next; ` + strings.Join(r.remoteAWS(), " ") +
		` 2>&1; echo called; fi; sleep 0.1; done`
	args := append(append([]string{"ssh"}, flags...), r.to(i, "--", "cd; "+loop)...)
	h := &held{r: r, out: &syncBuffer{}, errOut: &syncBuffer{}, home: u.Home}
	for _, f := range []string{"ready", "next", "stop"} { // a session killed before left them
		os.Remove(filepath.Join(h.home, f))
	}
	argv := append(append(slices.Clone(wrap), r.p.bin), args...)
	h.cmd = exec.Command(argv[0], argv[1:]...)
	h.cmd.Env, h.cmd.Stdout, h.cmd.Stderr = r.p.env, h.out, h.errOut
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cmd.Process.Kill(); h.cmd.Wait() })
	h.waitFile(t, "ready")
	return h
}

func (h *held) waitFile(t *testing.T, name string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(h.home, name)); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the remote never made %s: stdout %q stderr %q", name, h.out.String(), h.errOut.String())
		}
	}
}

// call runs the AWS CLI on the remote once more and returns what it printed.
func (h *held) call(t *testing.T) string {
	t.Helper()
	n := strings.Count(h.out.String(), "called\n")
	os.WriteFile(filepath.Join(h.home, "next"), nil, 0o644)
	// The AWS CLI retries a refused endpoint; on a loaded machine that
	// takes a while, so the deadline only catches a hang.
	for deadline := time.Now().Add(150 * time.Second); strings.Count(h.out.String(), "called\n") == n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the remote call never ended: %q", h.out.String())
		}
	}
	all := strings.Split(h.out.String(), "called\n")
	return all[n]
}

// stop ends the remote loop and waits for `rolecall ssh` to exit.
func (h *held) stop(t *testing.T) {
	t.Helper()
	os.WriteFile(filepath.Join(h.home, "stop"), nil, 0o644)
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("rolecall ssh: %v; stderr %q", err, h.errOut.String())
	}
	for _, f := range []string{"ready", "next", "stop"} {
		os.Remove(filepath.Join(h.home, f))
	}
}

// remoteSecret is the secret in the environment of user i's remote
// processes (read as root, as only root and the user can).
func (r *sshRig) remoteSecret(t *testing.T, i int) string {
	t.Helper()
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		st, err := os.Stat(filepath.Join("/proc", d.Name()))
		if err != nil || fmt.Sprint(st.Sys().(*syscall.Stat_t).Uid) != r.srv.Users[i].UID {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("AWS_CONTAINER_AUTHORIZATION_TOKEN=")); ok && len(v) > 0 {
				return string(v)
			}
		}
	}
	t.Fatal("no remote process of the user has the secret in its environment")
	return ""
}

// TestSSHVerb is `rolecall ssh` end to end: the remote AWS CLI gets dev's
// role through moto's STS; a terminal-style session sees the variables;
// no command line holds the secret; user 2 of the remote host is refused
// at the forwarded port; a revoke cuts the remote off at its next call;
// the grant goes with the last session (and with a killed one) or stays
// with --keep until its TTL; each failure is one line and leaves no grant.
func TestSSHVerb(t *testing.T) {
	r := startSSHRig(t)

	code, out, errOut := r.rolecallSSH(t, "", append([]string{"--profile", "dev"}, r.to(0, "--", strings.Join(r.remoteAWS(), " "))...)...)
	if code != 0 || !strings.Contains(out, "arn:aws:sts::111111111111:assumed-role/Admin/") || errOut != "" {
		t.Fatalf("exit %d; stdout %q; stderr %q\nserve:\n%s", code, out, errOut, r.p.logs.String())
	}
	if st := r.grant(t, 0); st != "revoked" {
		t.Errorf("after the session the grant is %q; want revoked", st)
	}

	t.Run("terminal-style session", func(t *testing.T) {
		in := "echo URI=$AWS_CONTAINER_CREDENTIALS_FULL_URI; test -n \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\" && echo token-set; exit\n"
		code, out, errOut := r.rolecallSSH(t, in, append([]string{"--profile", "dev", "-tt"}, r.to(0)...)...)
		if code != 0 || !regexp.MustCompile(`URI=http://127\.0\.0\.1:\d+/slot/dev\r\n`).MatchString(out) || !strings.Contains(out, "\ntoken-set") {
			t.Errorf("exit %d; stdout %q; stderr %q", code, out, errOut)
		}
	})

	t.Run("held session", func(t *testing.T) {
		h := r.hold(t, 0, "--profile", "dev")
		if got := h.call(t); !strings.Contains(got, ":assumed-role/Admin/") {
			t.Fatalf("first call: %q", got)
		}
		secret := r.remoteSecret(t, 0)
		if leaks := cmdlinesWith(secret); len(leaks) > 0 {
			t.Errorf("the secret stands on a command line: %q", leaks)
		}
		port := regexp.MustCompile(`127\.0\.0\.1:(\d+)`).FindStringSubmatch(r.remoteURI(t, 0))
		url := "http://127.0.0.1:" + port[1] + "/slot/dev"
		for _, tc := range []struct{ token, want string }{{"", "401 "}, {"made-up-EXAMPLE", "403 "}} {
			args := remoteGet(url, tc.token)
			got, err := r.srv.As(r.srv.Users[1], args[0], args[1:]...).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(got), tc.want) || strings.Contains(string(got), "AccessKeyId") {
				t.Errorf("user 2 with token %q through the forward: %v %q; want %s", tc.token, err, got, tc.want)
			}
		}
		// A second session to the same destination shares the grant.
		code, out, _ := r.rolecallSSH(t, "", append([]string{"--profile", "dev"}, r.to(0, "--", strings.Join(r.remoteAWS(), " "))...)...)
		if code != 0 || !strings.Contains(out, ":assumed-role/Admin/") || r.grant(t, 0) != "active" {
			t.Errorf("second session: exit %d %q; grant %q (want it still active)", code, out, r.grant(t, 0))
		}
		if out, err := r.p.verb("grant", "revoke", remote.GrantName(r.srv.Users[0].Name+"@127.0.0.1")); err != nil {
			t.Fatalf("revoke: %v %s", err, out)
		}
		if got := h.call(t); !strings.Contains(got, "403") || !strings.Contains(got, "was revoked") {
			t.Errorf("the call after the revoke: %q", got)
		}
		h.stop(t)
	})

	t.Run("killed rolecall ssh leaves no grant", func(t *testing.T) {
		// Under nohup, as a user may start it: SIGHUP is ignored there,
		// and by ssh too, which inherits that.
		h := r.holdUnder(t, []string{"nohup"}, 0, "--profile", "dev")
		if r.grant(t, 0) != "active" {
			t.Fatal("no active grant while connected")
		}
		h.cmd.Process.Kill()
		h.cmd.Wait()
		for deadline := time.Now().Add(10 * time.Second); r.grant(t, 0) == "active"; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the grant outlived its killed session")
			}
		}
		// Its ssh went with it, and with ssh the forward.
		for deadline := time.Now().Add(10 * time.Second); len(sshClients()) > 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("ssh outlived the killed rolecall ssh: %q", sshClients())
			}
		}
	})

	t.Run("keep", func(t *testing.T) {
		code, _, errOut := r.rolecallSSH(t, "", append([]string{"--profile", "dev", "--keep", "--ttl", "3s"}, r.to(0, "--", "true")...)...)
		if code != 0 || r.grant(t, 0) != "active" {
			t.Fatalf("exit %d %q; grant %q after a --keep session; want active", code, errOut, r.grant(t, 0))
		}
		for deadline := time.Now().Add(30 * time.Second); r.grant(t, 0) == "active"; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the kept grant outlived its TTL")
			}
		}
		if st := r.grant(t, 0); st != "expired" {
			t.Errorf("kept grant after its TTL: %q", st)
		}
	})

	t.Run("failures", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		takenPort := fmt.Sprint(taken.Addr().(*net.TCPAddr).Port)
		closedPort := freePort(t)
		for _, tc := range []struct {
			name string
			user int
			args []string
			env  []string
			want string
		}{
			{"forwarding refused", 1, nil, nil, creds.Say(creds.SSHForwardRefused, r.srv.Users[1].Name+"@127.0.0.1")},
			{"remote port taken", 0, []string{"--remote-port", takenPort}, nil, "port " + takenPort + " on "},
			{"ssh fails", 0, []string{"-p", closedPort}, nil, "before the remote command started"},
			{"rolecall not running", 0, nil, []string{control.SocketEnv + "=" + filepath.Join(t.TempDir(), "none.sock")}, "rolecall is not running"},
		} {
			cmd := exec.Command(r.p.bin, append(append([]string{"ssh", "--profile", "dev"}, tc.args...), r.to(tc.user, "--", "true")...)...)
			cmd.Env = append(append([]string(nil), r.p.env...), tc.env...)
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			err := cmd.Run()
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			last := lines[len(lines)-1]
			if err == nil || !strings.HasPrefix(last, "rolecall: ") || !strings.Contains(last, tc.want) {
				t.Errorf("%s: %v; stderr %q; want a last line with %q", tc.name, err, errOut.String(), tc.want)
			}
			if st := r.grant(t, tc.user); st == "active" {
				t.Errorf("%s: a grant is left", tc.name)
			}
		}
	})

	// Last, as it stops rolecall: a session is told, and goes on without it.
	t.Run("rolecall stops", func(t *testing.T) {
		h := r.hold(t, 0, "--profile", "dev")
		secret, uri := r.remoteSecret(t, 0), strings.TrimPrefix(r.remoteURI(t, 0), "AWS_CONTAINER_CREDENTIALS_FULL_URI=")
		if out, err := r.p.verb("stop"); err != nil {
			t.Fatalf("stop: %v %s", err, out)
		}
		want := "rolecall: " + creds.Say(creds.SSHRolecallStopped, r.srv.Users[0].Name+"@127.0.0.1") + "\n"
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(h.errOut.String(), want); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("rolecall ssh said %q; want %q", h.errOut.String(), want)
			}
		}
		args := remoteGet(uri, secret)
		if got, err := r.srv.As(r.srv.Users[0], args[0], args[1:]...).CombinedOutput(); err == nil || strings.Contains(string(got), "AccessKeyId") {
			t.Errorf("a request through the forward after rolecall stopped: %v %q", err, got)
		}
		h.stop(t)
	})
}

// remoteURI is the endpoint URL in the environment of user i's remote
// processes.
func (r *sshRig) remoteURI(t *testing.T, i int) string {
	t.Helper()
	out, err := r.srv.As(r.srv.Users[i], "sh", "-c", "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -m1 '^AWS_CONTAINER_CREDENTIALS_FULL_URI='").Output()
	if err != nil {
		t.Fatalf("no remote process of user %d has the endpoint: %v", i, err)
	}
	return strings.TrimSpace(string(out))
}
