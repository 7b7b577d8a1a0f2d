package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/handoff"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
)

// harness is an engine started over a fake fetcher and resolver, with a
// settings file in a temp dir and recorders for logins and notices: the
// actions the adapters call, without a process or a desktop.
type harness struct {
	e       *Engine
	cfgPath string
	fetches atomic.Int32
	// signedIn makes "signed-out/..." fetchable: the login completed.
	signedIn atomic.Bool

	mu      sync.Mutex
	logins  []string
	notices []string
	opened  []string
}

// needsLogin is the session of profiles named "signed-out/...".
const needsLogin = "corp"

func newHarness(t *testing.T, pinned ...string) *harness {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte("# my settings\nport = 4144\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startHarness(t, dir, pinned...)
}

// startHarness starts the engine on the files in dir (a restart when an
// engine ran there before).
func startHarness(t *testing.T, dir string, pinned ...string) *harness {
	t.Helper()
	gokeyring.MockInit()
	cfgPath := filepath.Join(dir, "config.toml")
	if len(pinned) > 0 { // as the file read at start held them
		if err := settings.Set(cfgPath, keyPinned, pinned); err != nil {
			t.Fatal(err)
		}
	}
	h := &harness{cfgPath: cfgPath}
	st := settings.Defaults()
	st.Port, st.Pinned = 0, pinned
	e, err := Start(context.Background(), Config{
		Settings: st, SettingsPath: cfgPath, StateDir: filepath.Join(dir, "state"), Socket: filepath.Join(dir, "run", "control.sock"),
		Fetcher: creds.FetcherFunc(h.fetch), Resolve: fakeResolve, Keyring: keyring.New("rolecall-test", nil),
		OpenURL: func(u string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.opened = append(h.opened, u)
			return nil
		},
		Failed: func(op Op, name string, err error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notices = append(h.notices, fmt.Sprintf("%d %s: %v", op, name, err))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.signIn = func(_ context.Context, session string, opts sso.LoginOptions) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		login := fmt.Sprintf("%s automatic=%v", session, opts.Automatic)
		if opts.Force {
			login += " new session"
		}
		h.logins = append(h.logins, login)
		return nil
	}
	h.e = e
	t.Cleanup(e.Close)
	return h
}

// fetch serves fake credentials, counted; "signed-out/..." needs a login.
func (h *harness) fetch(ctx context.Context, p creds.Profile) (creds.Credentials, error) {
	h.fetches.Add(1)
	if strings.HasPrefix(p.Name, "signed-out/") && !h.signedIn.Load() {
		return creds.Credentials{}, fmt.Errorf("fake: %w", creds.ErrLoginRequired)
	}
	now := time.Now()
	return creds.Credentials{
		AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SessionToken: "fake-session-token", Issued: now, Expiration: now.Add(time.Hour),
	}, nil
}

// fakeResolve knows every name but "nope"; "signed-out/..." belongs to
// the session needsLogin.
func fakeResolve(_ context.Context, req control.LoadRequest) (creds.Profile, error) {
	if req.Profile == "nope" {
		return creds.Profile{}, errors.New(`no profile named "nope"`)
	}
	p := creds.Profile{Name: req.Profile}
	if strings.HasPrefix(req.Profile, "signed-out/") {
		p.Session = needsLogin
	}
	return p, nil
}

func (h *harness) filePins(t *testing.T) []string {
	t.Helper()
	st, err := settings.Load(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return st.Pinned
}

func TestLoadAndRecent(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"dev", "prod", "dev"} {
		if err := h.e.Load(p, false); err != nil {
			t.Fatalf("load %s: %v", p, err)
		}
	}
	st := h.e.Snapshot()
	if st.Default == nil || st.Default.Profile.Name != "dev" || st.Default.State != creds.StateOK {
		t.Fatalf("default slot = %+v", st.Default)
	}
	if got := h.e.Recent(); !slices.Equal(got, []string{"dev", "prod"}) {
		t.Errorf("recent = %v, want [dev prod]", got)
	}
	if err := h.e.Load("prod", true); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.e.Lookup("prod"); !ok {
		t.Error("named slot prod not loaded")
	}
}

func TestLoadFailureKeepsSlotAndSaysWhy(t *testing.T) {
	h := newHarness(t)
	h.e.Load("dev", false)
	err := h.e.Load("nope", false)
	if err == nil || !strings.Contains(err.Error(), `no profile named "nope"`) {
		t.Fatalf("loading an unknown profile: %v", err)
	}
	if st := h.e.Snapshot(); st.Default == nil || st.Default.Profile.Name != "dev" {
		t.Errorf("a failed load replaced the default slot: %+v", st.Default)
	}
}

func TestLoadStartsLoginWhenSignedOut(t *testing.T) {
	h := newHarness(t)
	if err := h.e.Load("signed-out/Admin", false); err != nil {
		t.Fatalf("a load that needs a login is not a failure: %v", err)
	}
	h.e.Close() // waits for the login it started
	if !slices.Equal(h.logins, []string{needsLogin + " automatic=false"}) {
		t.Errorf("logins = %q", h.logins)
	}
	if len(h.e.Recent()) != 0 {
		t.Errorf("recent = %v: nothing was loaded", h.e.Recent())
	}
}

func TestPinUnpinUnload(t *testing.T) {
	// "offline" stands for a pin that could not be restored at start: it
	// is not loaded, and no action may drop it from the file.
	h := newHarness(t, "offline")
	h.e.Load("prod", true)
	if err := h.e.Pin("prod", true); err != nil {
		t.Fatal(err)
	}
	if got := h.filePins(t); !slices.Equal(got, []string{"offline", "prod"}) {
		t.Fatalf("pinned in file = %v, want [offline prod]", got)
	}
	if s, _ := h.e.Lookup("prod"); !s.Pinned {
		t.Error("slot prod not marked pinned")
	}
	b, _ := os.ReadFile(h.cfgPath)
	if !strings.HasPrefix(string(b), "# my settings\nport = 4144\n") {
		t.Errorf("the user's lines were not kept:\n%s", b)
	}
	h.e.Pin("prod", false)
	if got := h.filePins(t); !slices.Equal(got, []string{"offline"}) {
		t.Errorf("after unpin: %v, want [offline]", got)
	}
	h.e.Pin("prod", true)
	if err := h.e.Unload("prod"); err != nil {
		t.Fatal(err)
	}
	if got := h.filePins(t); !slices.Equal(got, []string{"offline"}) {
		t.Errorf("after unloading a pinned slot: %v, want [offline]", got)
	}
}

func TestLoginRuns(t *testing.T) {
	h := newHarness(t)
	h.e.Login("corp", false)
	h.e.NewSession("corp")
	h.e.Close() // waits for the logins
	slices.Sort(h.logins)
	if !slices.Equal(h.logins, []string{"corp automatic=false", "corp automatic=false new session"}) {
		t.Errorf("logins = %q", h.logins)
	}
}

// TestFavorites: a starred role is written to the settings file's
// `favorites`, the user's lines kept; unstarring removes it.
func TestFavorites(t *testing.T) {
	h := newHarness(t)
	if err := h.e.Favorite("dev/Admin", true); err != nil {
		t.Fatal(err)
	}
	st, err := settings.Load(h.cfgPath)
	if err != nil || !slices.Equal(st.Favorites, []string{"dev/Admin"}) || !slices.Equal(h.e.Favorites(), st.Favorites) {
		t.Fatalf("favorites in the file = %v (%v), engine says %v", st.Favorites, err, h.e.Favorites())
	}
	h.e.Favorite("dev/Admin", false)
	if st, _ := settings.Load(h.cfgPath); len(st.Favorites) != 0 || len(h.e.Favorites()) != 0 {
		t.Errorf("after unstarring: file %v, engine %v", st.Favorites, h.e.Favorites())
	}
}

func TestPinsWriteErrorKeepsSet(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("port = \n"), 0o600) // does not parse: Set refuses to touch it
	p := newNames(cfg, keyPinned, []string{"a"})
	if err := p.Set("b", true); err == nil {
		t.Fatal("pinning into a broken settings file did not fail")
	}
	if got := p.List(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("set after a failed write = %v, want [a]", got)
	}
	if !p.Has("a") || p.Has("b") {
		t.Error("Has disagrees with List")
	}
}

func TestRecentKeepsTenMostRecentFirst(t *testing.T) {
	var r recent
	for i := range 12 {
		r.Used(fmt.Sprint("p", i))
	}
	r.Used("p5")
	got := r.List()
	want := []string{"p5", "p11", "p10", "p9", "p8", "p7", "p6", "p4", "p3", "p2"}
	if !slices.Equal(got, want) {
		t.Errorf("recent = %v\nwant     %v", got, want)
	}
}

func TestConsoleOpensSignIn(t *testing.T) {
	fed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Action") != "getSigninToken" {
			http.Error(w, "unexpected action", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"SigninToken":"fake-signin-token"}`))
	}))
	defer fed.Close()
	t.Setenv(sso.FederationEndpointEnv, fed.URL)
	h := newHarness(t)
	if err := h.e.Console(""); err == nil {
		t.Error("console with nothing loaded did not fail")
	}
	h.e.Load("dev", false)
	if err := h.e.Console(""); err != nil {
		t.Fatal(err)
	}
	opened := h.opened
	if len(opened) != 1 || strings.Contains(opened[0], "fake-signin-token") {
		t.Fatalf("the browser launcher got %q: want one page of ours, with no secret in its address", opened)
	}
	if u := browse(t, opened[0]); !strings.HasPrefix(u, fed.URL) || !strings.Contains(u, "SigninToken=fake-signin-token") {
		t.Errorf("the browser reached %q", u)
	}
}

// browse is the browser opening page (a file:// URL of the engine's hand-
// off): it follows the page's one-time loopback link and returns where
// that redirects.
func browse(t *testing.T, page string) string {
	t.Helper()
	u, err := follow(page)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// follow is browse for a goroutine: the URL the page leads to, or why not.
func follow(page string) (string, error) {
	u, err := url.Parse(page)
	if err != nil || u.Scheme != "file" {
		return "", fmt.Errorf("launcher target %q: not a page of ours", page)
	}
	b, err := os.ReadFile(handoff.FilePath(u))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/go/[A-Za-z0-9_-]+)"`).FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("no loopback link in %s", b)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(string(m[1]))
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("loopback link: %d", resp.StatusCode)
	}
	return resp.Header.Get("Location"), nil
}

// TestPinKeepsHandEdits: a pin added by hand to config.toml while
// rolecall runs survives rolecall's next pin (the file is edited as it is
// on disk, not rewritten from what was read at start).
func TestPinKeepsHandEdits(t *testing.T) {
	h := newHarness(t, "offline")
	b, _ := os.ReadFile(h.cfgPath)
	edited := strings.Replace(string(b), `pinned = ["offline"]`, `pinned = ["offline", "by-hand"]`, 1)
	if edited == string(b) {
		t.Fatalf("harness file has no pinned line:\n%s", b)
	}
	os.WriteFile(h.cfgPath, []byte(edited), 0o600)
	h.e.Load("prod", true)
	if err := h.e.Pin("prod", true); err != nil {
		t.Fatal(err)
	}
	if got := h.filePins(t); !slices.Equal(got, []string{"offline", "by-hand", "prod"}) {
		t.Errorf("pinned in file = %v, want the hand edit kept: [offline by-hand prod]", got)
	}
	if got := h.e.pinned.List(); !slices.Equal(got, []string{"offline", "by-hand", "prod"}) {
		t.Errorf("pinned set = %v", got)
	}
}

// TestUnloadPinnedWithBrokenSettings: unloading a pinned slot while
// config.toml does not parse fails and says why; the slot stays loaded and
// pinned (before: unloaded now, back at the next start).
func TestUnloadPinnedWithBrokenSettings(t *testing.T) {
	h := newHarness(t)
	h.e.Load("prod", true)
	if err := h.e.Pin("prod", true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(h.cfgPath)
	broken := string(b) + "port = \n"
	os.WriteFile(h.cfgPath, []byte(broken), 0o600)
	err := h.e.Unload("prod")
	if err == nil || !strings.Contains(err.Error(), "not unloaded") || !strings.Contains(err.Error(), "config.toml") {
		t.Fatalf("unload of a pinned slot with a broken config.toml: %v", err)
	}
	if _, ok := h.e.Lookup("prod"); !ok {
		t.Error("the slot was unloaded anyway")
	}
	if got, _ := os.ReadFile(h.cfgPath); string(got) != broken {
		t.Error("the broken file was changed")
	}
	// An unpinned slot unloads whatever the file's state.
	h.e.Load("dev", true)
	if err := h.e.Unload("dev"); err != nil {
		t.Errorf("unload of an unpinned slot with a broken config.toml: %v", err)
	}
}

// TestWaitingRoleServedAfterLogin: a role asked for while its session is
// signed out is served once a login of that session completes (it was
// forgotten: the old role stayed served), and is listed as waiting
// meanwhile; a later load into the default slot wins over it.
func TestWaitingRoleServedAfterLogin(t *testing.T) {
	h := newHarness(t)
	if err := h.e.Load("dev", false); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Load("signed-out/Admin", false); err != nil {
		t.Fatal(err)
	}
	if w := h.e.Waiting(); w[needsLogin] != "signed-out/Admin" {
		t.Fatalf("waiting %v", w)
	}
	if d := h.e.Snapshot().Default; d == nil || d.Profile.Name != "dev" {
		t.Fatalf("default slot while waiting: %+v", d)
	}
	h.signedIn.Store(true)
	h.e.sessionEvent(sso.Event{Session: needsLogin, Login: true}) // the login completed
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if d := h.e.Snapshot().Default; d != nil && d.Profile.Name == "signed-out/Admin" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the role asked for is not served after the login: %+v", h.e.Snapshot().Default)
		}
	}
	if w := h.e.Waiting(); len(w) != 0 {
		t.Errorf("still waiting: %v", w)
	}

	// Asked for while signed out, then another role: the last one wins.
	h.signedIn.Store(false)
	h.e.Load("signed-out/ReadOnly", false)
	if err := h.e.Load("prod", false); err != nil {
		t.Fatal(err)
	}
	if w := h.e.Waiting(); len(w) != 0 {
		t.Errorf("a load after the request still waits: %v", w)
	}
}
