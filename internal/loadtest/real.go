//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

// userState is the state a user of `rolecall serve` is in: signed in to
// two sso-sessions (their tokens in gnome-keyring on a private session
// bus), five slots (the default slot remembered in state.json and four
// pinned slots, two per session), the audit log on (the default); the
// Identity Center is internal/fakeidc. Each start of the real binary in
// it restores the five slots, as a restart on a user's machine does.
type userState struct {
	bin, port, dir string
	env            []string
	tokenFile      string
	token          string    // the listener's, read after the first run
	stderr         io.Writer // of rolecall serve; nil: discarded
}

// The profiles of the user state: the default slot's and the pinned ones.
const (
	stateDefault = "dev"
	statePinned  = `"dev-ro", "prod", "prod-ro", "audit"`
)

// stateConfig is the user's AWS config: two sso-sessions, five profiles.
const stateConfig = `[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[sso-session lab]
sso_start_url = https://lab.awsapps.com/start
sso_region = us-east-1

[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin

[profile dev-ro]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = ReadOnly

[profile prod]
sso_session = lab
sso_account_id = 222222222222
sso_role_name = Admin

[profile prod-ro]
sso_session = lab
sso_account_id = 222222222222
sso_role_name = ReadOnly

[profile audit]
sso_session = lab
sso_account_id = 222222222222
sso_role_name = Audit
`

// newUserState builds the user state on t (whose cleanups stop the bus,
// the keyring and the fake) with one run of bin that signs in to both
// sessions and loads the default slot.
func newUserState(t testing.TB, bin string) (*userState, error) {
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	fake := fakeidc.New(
		fakeidc.Account{ID: "111111111111", Name: "dev", Roles: []string{"Admin", "ReadOnly"}},
		fakeidc.Account{ID: "222222222222", Name: "prod", Roles: []string{"Admin", "ReadOnly", "Audit"}},
	)
	t.Cleanup(fake.Close)
	u := &userState{bin: bin, dir: s.Dir, port: freePort(), tokenFile: filepath.Join(s.Dir, "state", "rolecall", "token")}
	cfg := filepath.Join(s.Dir, "aws-config")
	if err := os.WriteFile(cfg, []byte(stateConfig), 0o600); err != nil {
		return nil, err
	}
	settingsDir := filepath.Join(s.Dir, "config", "rolecall")
	if err := os.MkdirAll(settingsDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(settingsDir, "config.toml"), []byte("pinned = ["+statePinned+"]\n"), 0o600); err != nil {
		return nil, err
	}
	bindir := filepath.Join(s.Dir, "bin")
	if err := os.MkdirAll(bindir, 0o755); err != nil {
		return nil, err
	}
	// xdg-open: rolecall hands it a file:// page of its hand-off (package
	// handoff); the page's one-time loopback link redirects to the
	// verification URL, and visiting that approves the code.
	browser := `import re, sys, urllib.request
u = sys.argv[1]
if u.startswith("file://"):
    u = re.search(r'url=([^"]+)"', open(urllib.request.url2pathname(u[len("file://"):])).read()).group(1)
urllib.request.urlopen(u).read()
`
	if err := os.WriteFile(filepath.Join(bindir, "browser.py"), []byte(browser), 0o644); err != nil {
		return nil, err
	}
	script := "#!/bin/sh\nexec python3 " + filepath.Join(bindir, "browser.py") + " \"$1\"\n"
	if err := os.WriteFile(filepath.Join(bindir, "xdg-open"), []byte(script), 0o755); err != nil {
		return nil, err
	}
	u.env = append(append(os.Environ(), s.Env...), "PATH="+bindir+":"+os.Getenv("PATH"), "ROLECALL_SOCKET=",
		"AWS_CONFIG_FILE="+cfg, "HOME="+s.Dir, "AWS_ENDPOINT_URL_SSO_OIDC="+fake.URL, "AWS_ENDPOINT_URL_SSO="+fake.URL)
	// Role credentials with a session token as long as real ones
	// (~700 bytes), obviously fake.
	fake.Lock()
	fake.Mint = func(account, role string) (fakeidc.RoleCredentials, error) {
		return fakeidc.RoleCredentials{
			AccessKeyID:     "ASIAIOSFODNN7EXAMPLE",
			SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			SessionToken:    strings.Repeat("IQoJb3JpZ2luX2VjEXAMPLE", 30),
			Expiration:      time.Now().Add(12 * time.Hour).Truncate(time.Second),
		}, nil
	}
	fake.Unlock()
	if err := u.signIn(); err != nil {
		return nil, err
	}
	tok, err := os.ReadFile(u.tokenFile)
	u.token = string(tok)
	return u, err
}

// body is what rolecall serve answers on GET / in the user state, written
// to a file for the bare handler to serve the same bytes.
func (u *userState) body() (string, error) {
	p, err := u.start()
	if err != nil {
		return "", err
	}
	defer p.stop()
	req, _ := http.NewRequest("GET", p.url, nil)
	req.Header.Set("Authorization", u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	path := filepath.Join(u.dir, "body.json")
	return path, os.WriteFile(path, b, 0o600)
}

// bareTarget is the bare handler serving the bytes of file body; wrk
// sends it the same Authorization header as rolecall.
func bareTarget(bin, body, auth string) target {
	return target{name: "bare net/http", bin: bin, start: func() (*proc, error) {
		port := freePort()
		cmd := exec.Command(bin, body, port)
		cmd.Stderr = os.Stderr
		return startProc(cmd, "http://127.0.0.1:"+port+"/", auth)
	}}
}

// signIn is the first run: serve, log in to both sessions, load the
// default slot, wait until state.json remembers it, stop.
func (u *userState) signIn() error {
	cmd := exec.Command(u.bin, "serve", "--port", u.port)
	cmd.Env = u.env
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for _, args := range [][]string{{"list"}, {"login", "--sso-session", "corp"}, {"login", "--sso-session", "lab"}, {"load", "--profile", stateDefault}} {
		var out []byte
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			c := exec.CommandContext(ctx, u.bin, args...)
			c.Env = u.env
			out, err = c.CombinedOutput()
			cancel()
			if err == nil || args[0] != "list" || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("rolecall %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	state := filepath.Join(u.dir, "state", "rolecall", "state.json")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var st struct{ Default string }
		b, _ := os.ReadFile(state)
		if json.Unmarshal(b, &st) == nil && st.Default != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("state.json never remembered the default slot: %q", b)
		}
	}
}

// start runs `rolecall serve` in the user state and times exec to the
// first 200 on GET / (the default slot restored from state.json, the
// session's token read from the keyring, the role credentials fetched).
// It returns once the five slots serve.
func (u *userState) start() (*proc, error) { return u.startBin(u.bin) }

// startBin is start with another build of rolecall (-before).
func (u *userState) startBin(bin string) (*proc, error) {
	cmd := exec.Command(bin, "serve", "--port", u.port)
	cmd.Env = u.env
	cmd.Stderr = u.stderr
	p, err := startProc(cmd, "http://127.0.0.1:"+u.port+"/", u.token)
	if err != nil {
		return nil, err
	}
	// Every slot of the state serves before the load starts.
	for _, name := range append(strings.Split(strings.NewReplacer(`"`, "", " ", "").Replace(statePinned), ","), "") {
		path := "/"
		if name != "" {
			path = "/slot/" + name
		}
		if err := waitOK("http://127.0.0.1:"+u.port+path, p.auth, 10*time.Second); err != nil {
			p.stop()
			return nil, fmt.Errorf("%s serve in the user state: %w", bin, err)
		}
	}
	return p, nil
}

// startProc starts cmd in a process group of its own and times exec to
// the first 200 on url.
func startProc(cmd *exec.Cmd, url, auth string) (*proc, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, url: url, auth: auth}
	if err := waitOK(url, auth, 20*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w", cmd.Path, err)
	}
	p.coldStart = time.Since(t0)
	return p, nil
}

// waitOK polls url until it answers 200.
func waitOK(url, auth string, within time.Duration) error {
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	req, _ := http.NewRequest("GET", url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	t0 := time.Now()
	for {
		resp, err := cl.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Since(t0) > within {
			return fmt.Errorf("no 200 from %s within %s (last: %v)", url, within, err)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// peersEnv names the variable that lists other credential servers to
// measure beside rolecall: one NAME=COMMAND a line. COMMAND runs under
// /bin/sh with PORT set to a free port and BODY to the file of the bytes
// rolecall answers (what the bare handler serves), and prints, on the
// first line of its standard output, the URL to load and, after a space,
// the Authorization header value (if any). The tool never downloads
// anything: the commands name binaries already installed.
const peersEnv = "ROLECALL_BENCH_PEERS"

// peer is one entry of peersEnv; body is the file BODY names.
type peer struct{ name, command, body string }

func parsePeers(v string) ([]peer, error) {
	var out []peer
	for _, e := range strings.Split(v, "\n") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		name, command, ok := strings.Cut(e, "=")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(command) == "" {
			return nil, fmt.Errorf("%s: %q is not NAME=COMMAND", peersEnv, e)
		}
		out = append(out, peer{name: strings.TrimSpace(name), command: strings.TrimSpace(command)})
	}
	return out, nil
}

// start runs the peer and times exec to the first 200 on the URL it
// printed.
func (pe peer) start() (*proc, error) {
	cmd := exec.Command("/bin/sh", "-c", pe.command)
	cmd.Env = append(os.Environ(), "PORT="+freePort(), "BODY="+pe.body)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		url, auth, _ := strings.Cut(strings.TrimSpace(l), " ")
		if url == "" {
			p.stop()
			return nil, fmt.Errorf("peer %s printed no URL", pe.name)
		}
		p.url, p.auth = url, auth
	case <-time.After(20 * time.Second):
		p.stop()
		return nil, fmt.Errorf("peer %s printed no URL within 20 s", pe.name)
	}
	if err := waitOK(p.url, p.auth, 20*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("peer %s: %w", pe.name, err)
	}
	p.coldStart = time.Since(t0)
	return p, nil
}

// groupStat sums, over every process in process group pgid, the user +
// system CPU in clock ticks and the resident memory in KiB: now, of it
// file-backed (the binary's own pages, shared libraries), and the peak.
func groupStat(pgid int) (ticks, rss, rssFile, peak int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces).
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g != pgid {
			continue
		}
		u, _ := strconv.Atoi(f[11])
		s, _ := strconv.Atoi(f[12])
		ticks += u + s
		rss += status(pid, "VmRSS:")
		rssFile += status(pid, "RssFile:")
		peak += status(pid, "VmHWM:")
	}
	return ticks, rss, rssFile, peak
}
