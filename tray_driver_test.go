package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

// trayApp is `rolecall` with its tray on a private desktop session, signed
// in to a fake Identity Center of many accounts.
type trayApp struct {
	m     *menuClient
	cmd   *exec.Cmd
	port  string
	token string
	lost  int
	// browserLog lists the URLs opened in the (fake) browser.
	browserLog string // clicks that reached nothing (the menu was rebuilt, or busy)
}

// org300 is 300 accounts of four roles each.
func org300() []fakeidc.Account {
	var as []fakeidc.Account
	for i := range 300 {
		as = append(as, fakeidc.Account{ID: fmt.Sprintf("%012d", 100000000000+i), Name: fmt.Sprintf("acct-%03d", i),
			Roles: []string{"Admin", "ReadOnly", "Deploy", "Billing"}})
	}
	return as
}

func startTrayApp(tb testing.TB, fake *fakeidc.Server) *trayApp {
	s := desktoptest.Start(tb)
	s.StartKeyring(tb)
	s.StartWatcher(tb)
	s.StartNotifications(tb)
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "aws-config")
	os.WriteFile(cfg, []byte("[sso-session corp]\nsso_start_url = "+fake.URL+"/start\nsso_region = us-east-1\n"), 0o600)
	os.MkdirAll(filepath.Join(s.Dir, "config", "rolecall"), 0o700)
	port := freePort(tb)
	os.WriteFile(filepath.Join(s.Dir, "config", "rolecall", "config.toml"), []byte("port = "+port+"\n"), 0o600)
	pathEnv, browserLog := fakeBrowser(tb, dir)
	bin, err := buildBinary()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), s.Env...), pathEnv, "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+cfg, "HOME="+dir,
		"AWS_ENDPOINT_URL_SSO_OIDC="+fake.URL, "AWS_ENDPOINT_URL_SSO="+fake.URL)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	conn, err := dbus.Connect(s.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	m := &menuClient{t: tb, menu: conn.Object("org.kde.StatusNotifierItem-"+strconv.Itoa(cmd.Process.Pid)+"-1", "/StatusNotifierItem/menu")}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var rev uint32
		var l []any
		if m.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &l) == nil {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no tray menu on the bus:\n%s", logs.String())
		}
	}
	m.clickUntil("Log in to corp", func() bool { return !m.has("Log in to corp") })
	m.waitLabel(fmt.Sprintf("All accounts (%d)", len(fake.Accounts)))
	tok, err := os.ReadFile(filepath.Join(s.Dir, "state", "rolecall", "token"))
	if err != nil {
		tb.Fatal(err)
	}
	return &trayApp{m: m, cmd: cmd, port: port, token: string(tok), browserLog: browserLog}
}

// served returns the role ARN the endpoint serves now ("" on an error).
func (a *trayApp) served() string {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+a.port+"/", nil)
	req.Header.Set("Authorization", a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	return body["RoleArn"]
}

// roleID finds role under the account entry labelled account, wherever
// its range puts it.
func (a *trayApp) roleID(account, role string) (int32, bool) {
	sub, ok := findLayout(a.m.layout(), account)
	if !ok {
		return 0, false
	}
	return findID(sub, role)
}

// findLayout returns the part of a layout under the entry labelled label.
func findLayout(layout []any, label string) ([]any, bool) {
	if l, ok := layout[1].(map[string]dbus.Variant)["label"]; ok && l.Value().(string) == label {
		return layout, true
	}
	for _, c := range layout[2].([]dbus.Variant) {
		if sub, ok := findLayout(c.Value().([]any), label); ok {
			return sub, true
		}
	}
	return nil, false
}

// switchTo clicks role of account and waits until the endpoint serves it;
// it returns the time from the click to the first answer with the role.
// ids caches entry ids across calls: the menu keeps them while only
// checkmarks and labels change, and they are read again when a click
// reached nothing.
func (a *trayApp) switchTo(tb testing.TB, ids map[string]int32, account, id, role string) time.Duration {
	want := "arn:aws:iam::" + id + ":role/" + role
	key := account + "/" + role
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		entry, ok := ids[key]
		if !ok {
			if entry, ok = a.roleID(account+" · "+id, role); !ok { // the menu is being rebuilt: read it again
				time.Sleep(50 * time.Millisecond)
				continue
			}
			ids[key] = entry
		}
		start := time.Now()
		if err := a.m.menu.Call("com.canonical.dbusmenu.Event", 0, entry, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
			tb.Fatal(err)
		}
		for wait := time.Now().Add(3 * time.Second); time.Now().Before(wait); time.Sleep(5 * time.Millisecond) {
			if a.served() == want {
				return time.Since(start)
			}
		}
		delete(ids, key)
		a.lost++

	}
	tb.Fatalf("the endpoint never served %s", want)
	return 0
}

// TestTrayBucketClickServes: with 300 accounts, a role reached through
// All accounts > range > account is served by the endpoint once clicked;
// then Find a role… is opened the way the tray really opens it (the
// argv handed to the browser: a private file://, then the one-time link,
// the cookie and /) in Debian's Chromium, and a role picked there is
// served (before, Chromium dropped the cookie and the page answered 403).
func TestTrayBucketClickServes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs rolecall")
	}
	fake := fakeidc.New()
	defer fake.Close()
	fake.Accounts = org300()
	fake.PageSize = 100
	a := startTrayApp(t, fake)
	a.switchTo(t, map[string]int32{}, "acct-123", "100000000123", "Deploy")
	// Find a role… opens the picker through a one-time link. The browser
	// is handed a private page that forwards to it (the way of every URL
	// rolecall opens), so that the link's secret never stands on a command
	// line.
	// A real browser is to open the page: the fake one only logs it
	// (a browser.log.keep file tells it so).
	os.WriteFile(a.browserLog+".keep", nil, 0o600)
	var file string
	a.m.clickUntil("Find a role…", func() bool {
		b, _ := os.ReadFile(a.browserLog)
		i := strings.LastIndex(string(b), "file://")
		if i < 0 {
			return false
		}
		file = strings.Fields(string(b[i:]))[0]
		u, err := url.Parse(file)
		if err != nil {
			return false
		}
		_, err = os.Stat(u.Path) // the private page that forwards to the one-time link
		return err == nil && !strings.Contains(string(b), "?t=")
	})
	// The status line names the role and the time left, no cut account id.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if l := labels(a.m.layout()); strings.HasPrefix(l[0], "▶ acct-123/Deploy — ") && !strings.Contains(l[0], "…") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("status line not updated: %q", l[:3])
		}
	}
	got := pickInChromium(t, file, "acct-200 admin")
	if !strings.HasSuffix(got.URL, "/") || len(got.Loaded) != 1 || !strings.HasPrefix(got.Loaded[0], "acct-200/Admin") {
		t.Fatalf("the picker opened from the tray's file: %+v", got)
	}
	for deadline := time.Now().Add(20 * time.Second); a.served() != "arn:aws:iam::100000000200:role/Admin"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the role picked in the browser is not served: %q", a.served())
		}
	}
}

// pickedInBrowser is what tray/picker/testdata/desktop.mjs saw.
type pickedInBrowser struct {
	URL, Status     string
	Loaded, Pending []string
}

// pickInChromium opens file (the tray's private file, as a desktop does)
// in Debian's Chromium and picks the first role that search finds.
func pickInChromium(t *testing.T, file, search string) pickedInBrowser {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		desktoptest.SkipOrFail(t, "chromium is missing: apt-get install chromium")
	}
	if _, err := os.Stat("tray/picker/testdata/node_modules/playwright-core"); err != nil {
		desktoptest.SkipOrFail(t, "playwright-core is missing: cd tray/picker/testdata && npm ci")
	}
	cmd := exec.Command("node", filepath.Join("tray", "picker", "testdata", "desktop.mjs"), file, search)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "HOME="+t.TempDir())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, out)
	}
	var got pickedInBrowser
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("browser said %s: %v", out, err)
	}
	t.Logf("browser: %s", out)
	return got
}

// BenchmarkTrayDailyDriver runs rolecall with its tray and 300 accounts
// of four roles (1,200 roles; 0.25 s of fake portal latency) and reports
// its RSS once idle (after a login and the discovery), then switches b.N times between two roles loaded in
// the last hour: the time from the click to the endpoint serving the new
// role, and the process's CPU time per switch.
func BenchmarkTrayDailyDriver(b *testing.B) {
	fake := fakeidc.New()
	defer fake.Close()
	fake.Accounts = org300()
	fake.PageSize = 100
	a := startTrayApp(b, fake)
	fake.Lock()
	fake.Latency = 250 * time.Millisecond
	fake.Unlock()
	time.Sleep(2 * time.Second) // idle: discovery done, the menu built
	rss := procRSS(b, a.cmd.Process.Pid)
	roles := [][3]string{{"acct-042", "100000000042", "Admin"}, {"acct-250", "100000000250", "ReadOnly"}}
	ids := map[string]int32{}
	for _, r := range roles { // both loaded once; the menu gains Recent
		a.switchTo(b, ids, r[0], r[1], r[2])
	}
	time.Sleep(time.Second)
	clear(ids)
	a.lost = 0
	cpu0 := procCPU(b, a.cmd.Process.Pid)
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		r := roles[i%2]
		total += a.switchTo(b, ids, r[0], r[1], r[2])
	}
	b.StopTimer()
	b.ReportMetric(float64(rss)/1024, "idle-RSS-MB")
	b.ReportMetric(float64(a.lost), "lost-clicks")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "click-to-served-ms")
	b.ReportMetric((procCPU(b, a.cmd.Process.Pid)-cpu0).Seconds()/float64(b.N), "cpu-s/switch")
}

// procRSS is a process's resident memory in kB.
func procRSS(tb testing.TB, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// procCPU is a process's user+system CPU time (clock ticks of 10 ms).
func procCPU(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, 0x29)+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}
