package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

// menuClient reads and clicks a tray menu over com.canonical.dbusmenu.
type menuClient struct {
	t    testing.TB
	menu dbus.BusObject
}

func (m *menuClient) layout() []any {
	m.t.Helper()
	var rev uint32
	var layout []any
	// The first answer is one level deep only (a libdbusmenu-gtk quirk):
	// ask twice.
	for range 2 {
		if err := m.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &layout); err != nil {
			m.t.Fatalf("GetLayout: %v", err)
		}
	}
	return layout
}

// labels lists every label of the layout, depth-first.
func labels(layout []any) []string {
	var out []string
	if l, ok := layout[1].(map[string]dbus.Variant)["label"]; ok {
		out = append(out, l.Value().(string))
	}
	for _, c := range layout[2].([]dbus.Variant) {
		out = append(out, labels(c.Value().([]any))...)
	}
	return out
}

func findID(layout []any, label string) (int32, bool) {
	if l, ok := layout[1].(map[string]dbus.Variant)["label"]; ok && l.Value().(string) == label {
		if v, ok := layout[1].(map[string]dbus.Variant)["visible"]; !ok || v.Value().(bool) {
			return layout[0].(int32), true
		}
	}
	for _, c := range layout[2].([]dbus.Variant) {
		if id, ok := findID(c.Value().([]any), label); ok {
			return id, true
		}
	}
	return 0, false
}

// waitLabel waits for an entry to appear, and returns its id.
func (m *menuClient) waitLabel(label string) int32 {
	m.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		l := m.layout()
		if id, ok := findID(l, label); ok {
			return id
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no menu entry %q in %q", label, labels(l))
		}
	}
}

func (m *menuClient) click(label string) {
	m.t.Helper()
	id := m.waitLabel(label)
	if err := m.menu.Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
		m.t.Fatalf("click %q: %v", label, err)
	}
}

// clickUntil clicks label until done reports its effect. The menu may be
// rebuilt (new ids) between reading the layout and the click, which then
// reaches nothing: the click is sent again.
func (m *menuClient) clickUntil(label string, done func() bool) {
	m.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		m.click(label)
		for wait := time.Now().Add(time.Second); time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
			if done() {
				return
			}
		}
	}
	m.t.Fatalf("clicking %q had no effect", label)
}

func (m *menuClient) has(label string) bool {
	_, ok := findID(m.layout(), label)
	return ok
}

// TestTrayEndToEnd starts `rolecall` with its tray on a private session bus
// (real Secret Service, a StatusNotifierWatcher, a recording notification
// server), logs in from the menu, clicks a role and sees the credential
// endpoint serve it, sees the notifications of the login code and of the
// session ending, and quits from the menu.
func TestTrayEndToEnd(t *testing.T) {
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	s.StartWatcher(t)
	notes := s.StartNotifications(t)

	fake := fakeidc.New()
	defer fake.Close()
	fake.Accounts = []fakeidc.Account{{ID: "111111111111", Name: "Acme_Dev", Roles: []string{"Admin", "ReadOnly"}}}
	// A session that cannot be renewed and ends in 14 minutes: the
	// 15-minute warning is due at once.
	fake.NoRefreshTokens = true
	fake.AccessTokenTTL = 14 * time.Minute

	dir := t.TempDir()
	cfg := filepath.Join(dir, "aws-config")
	os.WriteFile(cfg, []byte("[sso-session corp]\nsso_start_url = "+fake.URL+"/start\nsso_region = us-east-1\n"), 0o600)
	os.MkdirAll(filepath.Join(s.Dir, "config", "rolecall"), 0o700)
	port := freePort(t)
	os.WriteFile(filepath.Join(s.Dir, "config", "rolecall", "config.toml"),
		[]byte("port = "+port+"\nnotify_before = [\"15m\", \"5m\"]\n"), 0o600)
	pathEnv, browserLog := fakeBrowser(t, dir)
	bin := builtBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), s.Env...), pathEnv, "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+cfg, "HOME="+dir,
		"AWS_ENDPOINT_URL_SSO_OIDC="+fake.URL, "AWS_ENDPOINT_URL_SSO="+fake.URL)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	conn, err := dbus.Connect(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	m := &menuClient{t: t, menu: conn.Object("org.kde.StatusNotifierItem-"+strconv.Itoa(cmd.Process.Pid)+"-1", "/StatusNotifierItem/menu")}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var rev uint32
		var l []any
		if m.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &l) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no tray menu on the bus:\n%s", logs.String())
		}
	}
	m.waitLabel("No role loaded")

	m.clickUntil("Log in to corp", func() bool { return !m.has("Log in to corp") })
	code := notes.Wait(t, "Log in to AWS session corp", 10*time.Second)
	if !slices.Contains(code.Actions, "open-browser") {
		t.Errorf("login code notification without its buttons: %+v", code)
	}
	// Discovery after the login: one account, so its roles stand at the
	// top level, "_" escaped, labelled with the account id.
	m.waitLabel("Acme__Dev/Admin — 111111111111")
	m.clickUntil("Acme__Dev/Admin — 111111111111", func() bool { return strings.HasPrefix(labels(m.layout())[0], "▶ Acme__Dev/Admin — ") })
	if b, _ := os.ReadFile(browserLog); strings.Count(string(b), "\n") != 1 {
		t.Errorf("browser opened %q", b)
	}

	// The login completed: its code is taken back.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if !slices.ContainsFunc(notes.OnScreen(), func(n desktoptest.Notification) bool {
			return n.ID == code.ID && strings.Contains(n.Summary, "Log in to AWS")
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the login code stays on screen after the login: %+v", notes.OnScreen())
		}
	}

	// The endpoint serves the clicked role.
	tok, err := os.ReadFile(filepath.Join(s.Dir, "state", "rolecall", "token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/", nil)
	req.Header.Set("Authorization", string(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body["RoleArn"] != "arn:aws:iam::111111111111:role/Admin" {
		t.Fatalf("GET / = %d %v", resp.StatusCode, body)
	}

	// The session ends in 14 minutes: warned once, with the app name set.
	n := notes.Wait(t, "AWS session corp ends in", 10*time.Second)
	if n.App != "rolecall" {
		t.Errorf("notification app name %q", n.App)
	}
	// Its "Log in" button starts a login: the browser opens again.
	if !slices.Contains(n.Actions, "login") {
		t.Fatalf("session warning without a Log in button: %+v", n)
	}
	notes.Invoke(t, n.ID, "login")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, _ := os.ReadFile(browserLog); strings.Count(string(b), "\n") == 2 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(browserLog)
			t.Fatalf("the notification's Log in button started no login: browser %q notes %+v\n%s", b, notes.All(), logs.String())
		}
	}

	// Start at login, from the menu.
	desktop := filepath.Join(s.Dir, "config", "autostart", "rolecall.desktop")
	m.clickUntil("Start at login", func() bool { _, err := os.Stat(desktop); return err == nil })

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var exitErr error
	// Click Quit until rolecall is gone; once it is, its menu is too (a
	// slow exit must not read as a missing menu).
	for exited, deadline := false, time.Now().Add(30*time.Second); !exited; {
		var rev uint32
		var l []any
		if m.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &l) == nil {
			if id, ok := findID(l, "Quit"); ok {
				m.menu.Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(0))
			}
		}
		select {
		case exitErr = <-done:
			exited = true
		case <-time.After(time.Second):
			if time.Now().After(deadline) {
				t.Fatal("Quit did not end rolecall")
			}
		}
	}
	if exitErr != nil {
		t.Fatalf("exit: %v\n%s", exitErr, logs.String())
	}
	if on := notes.OnScreen(); len(on) != 0 {
		t.Errorf("notifications left on screen after Quit: %+v", on)
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") {
			t.Errorf("error logged: %s", sc.Text())
		}
	}
}
