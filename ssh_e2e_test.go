//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/internal/sshtest"
	"github.com/rolecall/rolecall/remote"
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
	cfg := filepath.Join(dir, "aws-config")
	os.WriteFile(cfg, []byte(`[sso-session corp]
sso_start_url = `+fake.URL+`/start
sso_region = us-east-1

[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin
`), 0o600)
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

// session runs the user's ssh to user i of the rig with the mechanics of
// rolecall ssh (package remote), handing the remote the endpoint of slot
// dev and secret; forwarded, if not nil, gets the forward's remote port.
// It returns the exit status and both outputs.
func (r *sshRig) session(t *testing.T, i int, secret string, forwarded func(int), command ...string) (code int, out, errOut string) {
	a, err := remote.ParseArgs(append(append(r.srv.ClientArgs(), r.srv.Users[i].Name+"@127.0.0.1", "--"), command...))
	if err != nil {
		return 0, "", err.Error()
	}
	var stdout, stderr bytes.Buffer
	s := &remote.Session{Args: a, Endpoint: "http://127.0.0.1:" + r.port + "/slot/dev", Secret: secret,
		Stdout: &stdout, Stderr: &stderr, Forwarded: forwarded}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code, err = s.Run(ctx)
	if err != nil {
		stderr.WriteString(err.Error())
	}
	return code, stdout.String(), stderr.String()
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

// TestSSHForwardServesTheRemote: through the user's own ssh, the AWS CLI
// on the remote host gets dev's role from the running rolecall (its peer
// check lets the forward in: the connection is the user's ssh client);
// another user of the remote host reaches the forwarded port but, without
// the secret, gets nothing; no command line on either side holds the
// secret.
func TestSSHForwardServesTheRemote(t *testing.T) {
	r := startSSHRig(t)
	token, err := r.p.verb("token")
	if err != nil {
		t.Fatal(token)
	}
	token = strings.TrimSpace(token)
	code, out, errOut := r.session(t, 0, token, nil, r.remoteAWS()...)
	if code != 0 || !strings.Contains(out, "arn:aws:sts::111111111111:assumed-role/Admin/") {
		t.Fatalf("exit %d; stdout %q; stderr %q\nserve:\n%s", code, out, errOut, r.p.logs.String())
	}

	// A session that stays until the test says so.
	user1, user2 := r.srv.Users[0], r.srv.Users[1]
	ready, done := filepath.Join(user1.Home, "ready"), filepath.Join(user1.Home, "done")
	ports := make(chan int, 1)
	ended := make(chan string, 1)
	go func() {
		code, out, errOut := r.session(t, 0, token, func(p int) { ports <- p },
			"touch "+ready+"; while [ ! -e "+done+" ]; do sleep 0.1; done; "+strings.Join(r.remoteAWS(), " "))
		ended <- fmt.Sprintf("exit %d; stdout %q; stderr %q", code, out, errOut)
	}()
	defer os.WriteFile(done, nil, 0o644)
	port := <-ports
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the remote command did not start: %s", <-ended)
		}
	}
	if leaks := cmdlinesWith(token); len(leaks) > 0 {
		t.Errorf("the secret stands on a command line: %q", leaks)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/slot/dev", port)
	for _, tc := range []struct{ token, want string }{
		{"", "401 "}, {"made-up-EXAMPLE", "403 "},
	} {
		got, err := r.srv.As(user2, remoteGet(url, tc.token)[0], remoteGet(url, tc.token)[1:]...).CombinedOutput()
		if err != nil || !strings.HasPrefix(string(got), tc.want) || strings.Contains(string(got), "AccessKeyId") {
			t.Errorf("user 2 with token %q through the forward: %v %q; want %s", tc.token, err, got, tc.want)
		}
	}
	os.WriteFile(done, nil, 0o644)
	if res := <-ended; !strings.HasPrefix(res, "exit 0;") || !strings.Contains(res, ":assumed-role/Admin/") {
		t.Errorf("the held session: %s", res)
	}
}
