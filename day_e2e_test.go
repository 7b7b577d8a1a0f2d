package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// A day in the life of a laptop: `rolecall` started, stopped, killed and
// started again, against the fake Identity Center (behind a proxy that can
// cut it off), moto's STS and gnome-keyring on a private session bus.

// cutProxy stands between rolecall and the fake Identity Center. Down, it
// closes every connection, open ones included, as a lost network does,
// and counts the attempts.
type cutProxy struct {
	l      net.Listener
	target string
	down   atomic.Bool
	cut    atomic.Int64 // connections refused while down

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.closeAll() })
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.l.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			p.cut.Add(1)
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.track(c, d)
	done := make(chan struct{}, 2)
	go func() { io.Copy(d, c); done <- struct{}{} }()
	go func() { io.Copy(c, d); done <- struct{}{} }()
	<-done
	c.Close()
	d.Close()
	p.untrack(c, d)
}

func (p *cutProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *cutProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// setDown cuts Identity Center off (or brings it back).
func (p *cutProxy) setDown(down bool) {
	p.down.Store(down)
	if down {
		p.closeAll()
	}
}

func (p *cutProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// dayRig is one laptop: one sso-session with three pinned slots (a
// profile, a role chain through moto's STS, a discovered role).
type dayRig struct {
	t          *testing.T
	s          *desktoptest.Session
	fake       *fakeidc.Server
	proxy      *cutProxy
	env        []string
	port       string
	browserLog string
	settings   string
}

// pinnedPaths are the routes of the default slot and the three pins.
var pinnedPaths = []string{"/", "/slot/dev", "/slot/ops", "/slot/prod%2FReadOnly"}

const dayPins = `pinned = ["dev", "ops", "prod/ReadOnly"]`

func newDayRig(t *testing.T) *dayRig {
	t.Helper()
	stsURL := moto(t)
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	fake := fakeidc.New(
		fakeidc.Account{ID: "111111111111", Name: "dev", Roles: []string{"Admin"}},
		fakeidc.Account{ID: "222222222222", Name: "prod", Roles: []string{"ReadOnly"}},
	)
	t.Cleanup(fake.Close)
	fake.Mint = motoMint(t, stsURL)
	proxy := startCutProxy(t, fake.URL)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "aws-config")
	os.WriteFile(cfg, []byte(`[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin

[profile ops]
role_arn = arn:aws:iam::111111111111:role/ops
source_profile = dev
`), 0o600)
	r := &dayRig{t: t, s: s, fake: fake, proxy: proxy, port: freePort(t),
		settings: filepath.Join(s.Dir, "config", "rolecall", "config.toml")}
	os.MkdirAll(filepath.Dir(r.settings), 0o700)
	os.WriteFile(r.settings, []byte("# my settings\nport = "+r.port+"\n"+dayPins+"\n"), 0o600)
	var pathEnv string
	pathEnv, r.browserLog = fakeBrowser(t, dir)
	r.env = append(append(os.Environ(), s.Env...), pathEnv, "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+cfg, "HOME="+dir,
		"AWS_ENDPOINT_URL_SSO_OIDC="+proxy.URL(), "AWS_ENDPOINT_URL_SSO="+proxy.URL(), "AWS_ENDPOINT_URL_STS="+stsURL)
	return r
}

// firstRun signs in, sees the pins come back with the login, puts
// prod/ReadOnly and then dev/Admin into the default slot, and dies by
// kill -9.
func (r *dayRig) firstRun() {
	r.t.Helper()
	p := startServe(r.t, r.env, r.port)
	r.verb(p, "login", "--sso-session", "corp")
	r.verb(p, "load", "--profile", "prod/ReadOnly")
	r.verb(p, "load", "--profile", "dev/Admin")
	if _, err := r.waitServing(p, pinnedPaths, 30*time.Second); err != nil {
		r.t.Fatalf("first run: %v\n%s", err, p.logs.String())
	}
	// state.json is written by its owner after the change: wait for it.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st := r.state()
		if st.Default == "dev/Admin" && slices.Equal(st.Recent, []string{"dev/Admin", "prod/ReadOnly"}) {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("state.json = %+v", st)
		}
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

func (r *dayRig) verb(p *serveProc, args ...string) string {
	r.t.Helper()
	out, err := boundedVerb(p, args...)
	if err != nil {
		r.t.Fatalf("rolecall %s: %v\n%s\nlogs:\n%s", strings.Join(args, " "), err, out, p.logs.String())
	}
	return out
}

// savedState is state.json as SPEC describes it.
type savedState struct {
	Default string   `json:"default"`
	Recent  []string `json:"recent"`
}

func (r *dayRig) state() savedState {
	var st savedState
	b, _ := os.ReadFile(filepath.Join(r.s.Dir, "state", "rolecall", "state.json"))
	json.Unmarshal(b, &st)
	return st
}

func (r *dayRig) token() string {
	b, _ := os.ReadFile(filepath.Join(r.s.Dir, "state", "rolecall", "token"))
	return string(b)
}

func (r *dayRig) status(path string) int {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+r.port+path, nil)
	req.Header.Set("Authorization", r.token())
	resp, err := dayClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// dayClient bounds every request of the suite.
var dayClient = &http.Client{Timeout: 5 * time.Second}

// waitServing waits until every path answers 200; it returns how long
// that took, or what still failed.
func (r *dayRig) waitServing(p *serveProc, paths []string, within time.Duration) (time.Duration, error) {
	start := time.Now()
	for deadline := start.Add(within); ; time.Sleep(10 * time.Millisecond) {
		var failing []string
		for _, path := range paths {
			if code := r.status(path); code != 200 {
				failing = append(failing, path+" "+http.StatusText(code))
			}
		}
		if len(failing) == 0 {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			out, _ := boundedVerb(p, "list", "--json")
			return 0, &serveError{failing: failing, list: out}
		}
	}
}

// boundedVerb runs a verb like p.verb, killed after a minute: no step of
// the day may hang the suite.
func boundedVerb(p *serveProc, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, p.bin, args...)
	c.Env = p.env
	out, err := c.CombinedOutput()
	return string(out), err
}

type serveError struct {
	failing []string
	list    string
}

func (e *serveError) Error() string {
	return "not serving: " + strings.Join(e.failing, ", ") + "\nlist: " + e.list
}

func (r *dayRig) slots(p *serveProc) []control.SlotInfo {
	r.t.Helper()
	var out []control.SlotInfo
	if err := json.Unmarshal([]byte(r.verb(p, "list", "--json")), &out); err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *dayRig) browserOpens() int {
	b, _ := os.ReadFile(r.browserLog)
	return strings.Count(string(b), "\n")
}

func (r *dayRig) filePins() []string {
	r.t.Helper()
	st, err := settings.Load(r.settings)
	if err != nil {
		r.t.Fatal(err)
	}
	return st.Pinned
}

// TestDayRestart: after a restart the three pinned slots and the default
// slot serve within seconds with no login and no browser, `current` and
// the tray's menu show the same default and recent roles, a second
// instance is refused even with another runtime dir, and a logout keeps
// the pins for the next login.
func TestDayRestart(t *testing.T) {
	r := newDayRig(t)
	r.firstRun()
	if n := r.browserOpens(); n != 1 {
		t.Fatalf("first run opened the browser %d times, want 1", n)
	}
	r.s.StartWatcher(t)

	// The restart, with the tray: it would open a browser for a slot it
	// thought signed out.
	start := time.Now()
	p := r.startTray()
	logs := p.logs
	if _, err := r.waitServing(p, pinnedPaths, 20*time.Second); err != nil {
		t.Fatalf("after restart: %v\nlogs:\n%s", err, logs.String())
	}
	t.Logf("restart: exec to default + 3 pinned slots serving: %v", time.Since(start).Round(time.Millisecond))
	if n := r.browserOpens(); n != 1 {
		t.Errorf("the restart opened the browser (%d opens in all)\n%s", n, logs.String())
	}
	if n := r.fake.Calls("StartDeviceAuthorization"); n != 1 {
		t.Errorf("device authorizations = %d, want 1: the restart asked for a login", n)
	}
	if out := r.verb(p, "current"); out != "dev/Admin\n" {
		t.Errorf("current after restart = %q", out)
	}
	for _, s := range r.slots(p) {
		if s.State != "ok" || (s.Slot != "default") != s.Pinned {
			t.Errorf("slot after restart: %+v", s)
		}
	}
	// The menu: the restored default in the header, the recent roles
	// in their order under "Recent".
	m := trayMenu(t, r.s, p.cmd.Process.Pid, logs)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		l := labels(m.layout())
		i := slices.Index(l, "Recent")
		if len(l) > 0 && strings.Contains(l[0], "dev/Admin") && i >= 0 && i+2 < len(l) &&
			strings.HasPrefix(l[i+1], "dev/Admin") && strings.HasPrefix(l[i+2], "prod/ReadOnly") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("menu after restart: want dev/Admin in the header, then Recent: dev/Admin, prod/ReadOnly; got %q", l)
		}
	}

	// A second rolecall with its own runtime dir shares the state dir: refused.
	// (Bounded: a second instance that starts is killed, and fails the test.)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, p.bin, "serve", "--port", freePort(t))
	second.Env = append(slices.Clone(r.env), "XDG_RUNTIME_DIR="+t.TempDir())
	if out, err := second.CombinedOutput(); ctx.Err() != nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second instance: %v %q", err, out)
	}

	// A logout keeps the pinned slots (signed out) and the file; the next
	// login serves them again.
	r.verb(p, "logout", "--sso-session", "corp")
	if got := r.filePins(); !slices.Equal(got, []string{"dev", "ops", "prod/ReadOnly"}) {
		t.Errorf("pins after logout: %v", got)
	}
	var named []string
	for _, s := range r.slots(p) {
		named = append(named, s.Slot+"="+s.State)
	}
	if got := strings.Join(named, " "); got != "dev=login-required ops=login-required prod/ReadOnly=login-required" {
		t.Errorf("slots after logout: %s", got)
	}
	r.verb(p, "login", "--sso-session", "corp")
	if _, err := r.waitServing(p, pinnedPaths[1:], 20*time.Second); err != nil {
		t.Errorf("after logging in again: %v", err)
	}
}

// trayMenu waits for the tray's menu of pid on the session bus.
func trayMenu(t *testing.T, s *desktoptest.Session, pid int, logs *syncBuffer) *menuClient {
	t.Helper()
	conn, err := dbus.Connect(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := &menuClient{t: t, menu: conn.Object("org.kde.StatusNotifierItem-"+strconv.Itoa(pid)+"-1", "/StatusNotifierItem/menu")}
	ready := func() bool {
		var rev uint32
		var l []any
		return m.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &l) == nil
	}
	for deadline := time.Now().Add(10 * time.Second); !ready(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no tray menu on the bus:\n%s", logs.String())
		}
	}
	return m
}

// TestDayOfflineBoot: started while Identity Center is unreachable, the
// pins stay in the settings file, the pins of the AWS config serve the
// credentials the last run held, the discovered roles say `error` with
// the reason, and all serve within one backoff step once it is back.
func TestDayOfflineBoot(t *testing.T) {
	r := newDayRig(t)
	r.firstRun()

	r.proxy.setDown(true)
	outage := time.Now()
	p := startServe(t, r.env, r.port)
	// The pins of the AWS config serve what the last run held (carried
	// across the restart in the keyring); the discovered roles cannot be
	// named without Identity Center: in error, with the reason.
	var slots []control.SlotInfo
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		slots = r.slots(p)
		failed, carried := 0, 0
		for _, s := range slots {
			switch {
			case s.State == "error" && s.Error != "" && strings.Contains(s.Profile, "/"):
				failed++
			case s.State == "ok" && (s.Slot == "dev" || s.Slot == "ops"):
				carried++
			}
		}
		if failed == 2 && carried == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("offline boot: want dev and ops served, the two discovered roles in error with a reason, got %+v\n%s", slots, p.logs.String())
		}
	}
	if code := r.status("/slot/dev"); code != http.StatusOK {
		t.Errorf("GET /slot/dev during the outage = %d, want 200 (carried over)", code)
	}
	if got := r.filePins(); !slices.Equal(got, []string{"dev", "ops", "prod/ReadOnly"}) {
		t.Errorf("pins after an offline boot: %v", got)
	}
	if b, _ := os.ReadFile(r.settings); !strings.HasPrefix(string(b), "# my settings\n") {
		t.Errorf("settings file rewritten:\n%s", b)
	}
	if code := r.status("/"); code != http.StatusServiceUnavailable {
		t.Errorf("GET / during the outage = %d, want 503", code)
	}

	// Back: every slot serves by its next scheduled retry.
	down := time.Since(outage)
	cut := r.proxy.cut.Load()
	var step time.Duration
	now := time.Now()
	for _, s := range r.slots(p) {
		if at, err := time.Parse(time.RFC3339, s.NextRefresh); err == nil {
			step = max(step, at.Sub(now))
		}
	}
	r.proxy.setDown(false)
	// A slot whose attempt failed just as the service came back waits for
	// its session's pause (its next refresh says until when).
	now = time.Now()
	for _, s := range r.slots(p) {
		if at, err := time.Parse(time.RFC3339, s.NextRefresh); err == nil {
			step = max(step, at.Sub(now))
		}
	}
	took, err := r.waitServing(p, pinnedPaths, step+10*time.Second)
	if err != nil {
		t.Fatalf("after the outage (next retry in %v): %v\n%s", step, err, p.logs.String())
	}
	t.Logf("offline boot: outage %v, %d connection attempts to Identity Center (%.0f per minute); serving %v after it came back (next retry was due in %v)",
		down.Round(time.Second), cut, float64(cut)/down.Minutes(), took.Round(time.Millisecond), step.Round(time.Millisecond))
}

// startTray starts `rolecall` (the tray) in the rig's session, killed when
// the test ends.
func (r *dayRig) startTray() *serveProc {
	r.t.Helper()
	bin, err := buildBinary()
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(bin)
	logs := &syncBuffer{}
	cmd.Env, cmd.Stderr = r.env, logs
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &serveProc{cmd: cmd, logs: logs, env: r.env, bin: bin}
}
