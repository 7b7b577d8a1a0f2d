package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
	"github.com/rolecall/rolecall/tray"
)

// actionsHarness is an app with a real manager over a fake fetcher, a
// settings file in a temp dir, and recorders for logins and notices: the
// menu actions without a process or a desktop.
type actionsHarness struct {
	a       *app
	cfgPath string
	fetches atomic.Int32

	mu      sync.Mutex
	logins  []string
	notices []string
}

// needsLogin is the session of profiles named "signed-out/...".
const needsLogin = "corp"

func newActionsHarness(t *testing.T, pinned ...string) *actionsHarness {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfgPath, []byte("# my settings\nport = 4144\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &actionsHarness{cfgPath: cfgPath}
	fetch := creds.FetcherFunc(func(ctx context.Context, p creds.Profile) (creds.Credentials, error) {
		h.fetches.Add(1)
		if strings.HasPrefix(p.Name, "signed-out/") {
			return creds.Credentials{}, fmt.Errorf("fake: %w", creds.ErrLoginRequired)
		}
		now := time.Now()
		return creds.Credentials{
			AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			SessionToken: "fake-session-token", Issued: now, Expiration: now.Add(time.Hour),
		}, nil
	})
	m := creds.NewManager(creds.Config{Fetcher: fetch, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	h.a = &app{
		engine: &engine{manager: m},
		pins:   newPins(cfgPath, pinned),
		recent: &recent{}, signins: newSignins(filepath.Join(t.TempDir(), "signins.json"), slog.New(slog.DiscardHandler)),
		log: slog.New(slog.DiscardHandler),
		ctx: ctx, cancel: cancel,
		changes: make(chan struct{}, 1),
		resolve: func(_ context.Context, req control.LoadRequest) (creds.Profile, error) {
			if req.Profile == "nope" {
				return creds.Profile{}, errors.New(`no profile named "nope"`)
			}
			p := creds.Profile{Name: req.Profile}
			if strings.HasPrefix(req.Profile, "signed-out/") {
				p.Session = needsLogin
			}
			return p, nil
		},
		signIn: func(_ context.Context, session string, automatic bool) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.logins = append(h.logins, fmt.Sprintf("%s automatic=%v", session, automatic))
			return nil
		},
		show: func(title, body string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.notices = append(h.notices, title+": "+body)
		},
	}
	t.Cleanup(func() { cancel(); h.a.wg.Wait() })
	return h
}

// run clicks act the way the tray does.
func (h *actionsHarness) run(act tray.Action) error {
	var failed error
	acts := h.a.actions()
	acts.Failed = func(_ tray.Action, err error) { failed = err; h.a.actionFailed(act, err) }
	acts.Do(act)
	return failed
}

func (h *actionsHarness) filePins(t *testing.T) []string {
	t.Helper()
	st, err := settings.Load(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return st.Pinned
}

func TestActionLoadAndRecent(t *testing.T) {
	h := newActionsHarness(t)
	for _, p := range []string{"dev", "prod", "dev"} {
		if err := h.run(tray.Action{Kind: tray.ActLoad, Profile: p}); err != nil {
			t.Fatalf("load %s: %v", p, err)
		}
	}
	st := h.a.engine.manager.Snapshot()
	if st.Default == nil || st.Default.Profile.Name != "dev" || st.Default.State != creds.StateOK {
		t.Fatalf("default slot = %+v", st.Default)
	}
	if got := h.a.recent.List(); !slices.Equal(got, []string{"dev", "prod"}) {
		t.Errorf("recent = %v, want [dev prod]", got)
	}
	if err := h.run(tray.Action{Kind: tray.ActLoadSlot, Profile: "prod"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.a.engine.manager.Lookup("prod"); !ok {
		t.Error("named slot prod not loaded")
	}
}

func TestActionLoadFailureKeepsSlotAndSaysWhy(t *testing.T) {
	h := newActionsHarness(t)
	h.run(tray.Action{Kind: tray.ActLoad, Profile: "dev"})
	err := h.run(tray.Action{Kind: tray.ActLoad, Profile: "nope"})
	if err == nil {
		t.Fatal("loading an unknown profile did not fail")
	}
	if st := h.a.engine.manager.Snapshot(); st.Default == nil || st.Default.Profile.Name != "dev" {
		t.Errorf("a failed load replaced the default slot: %+v", st.Default)
	}
	if len(h.notices) != 1 || !strings.Contains(h.notices[0], `no profile named "nope"`) {
		t.Errorf("notices = %q", h.notices)
	}
}

func TestActionLoadStartsLoginWhenSignedOut(t *testing.T) {
	h := newActionsHarness(t)
	if err := h.run(tray.Action{Kind: tray.ActLoad, Profile: "signed-out/Admin"}); err != nil {
		t.Fatalf("a load that needs a login is not a failure: %v", err)
	}
	h.a.wg.Wait()
	if !slices.Equal(h.logins, []string{needsLogin + " automatic=false"}) {
		t.Errorf("logins = %q", h.logins)
	}
	if len(h.a.recent.List()) != 0 {
		t.Errorf("recent = %v: nothing was loaded", h.a.recent.List())
	}
}

func TestActionPinUnpinUnload(t *testing.T) {
	// "offline" stands for a pin that could not be restored at start: it
	// is not loaded, and no action may drop it from the file.
	h := newActionsHarness(t, "offline")
	h.run(tray.Action{Kind: tray.ActLoadSlot, Profile: "prod"})
	if err := h.run(tray.Action{Kind: tray.ActPin, Profile: "prod"}); err != nil {
		t.Fatal(err)
	}
	if got := h.filePins(t); !slices.Equal(got, []string{"offline", "prod"}) {
		t.Fatalf("pinned in file = %v, want [offline prod]", got)
	}
	if s, _ := h.a.engine.manager.Lookup("prod"); !s.Pinned {
		t.Error("slot prod not marked pinned")
	}
	b, _ := os.ReadFile(h.cfgPath)
	if !strings.HasPrefix(string(b), "# my settings\nport = 4144\n") {
		t.Errorf("the user's lines were not kept:\n%s", b)
	}
	h.run(tray.Action{Kind: tray.ActUnpin, Profile: "prod"})
	if got := h.filePins(t); !slices.Equal(got, []string{"offline"}) {
		t.Errorf("after unpin: %v, want [offline]", got)
	}
	h.run(tray.Action{Kind: tray.ActPin, Profile: "prod"})
	if err := h.run(tray.Action{Kind: tray.ActUnload, Profile: "prod"}); err != nil {
		t.Fatal(err)
	}
	if got := h.filePins(t); !slices.Equal(got, []string{"offline"}) {
		t.Errorf("after unloading a pinned slot: %v, want [offline]", got)
	}
}

func TestActionLoginAndUnknown(t *testing.T) {
	h := newActionsHarness(t)
	h.run(tray.Action{Kind: tray.ActLogin, Session: "corp"})
	h.a.wg.Wait()
	if !slices.Equal(h.logins, []string{"corp automatic=false"}) {
		t.Errorf("logins = %q", h.logins)
	}
	if err := h.run(tray.Action{Kind: tray.ActionKind(999)}); err == nil {
		t.Error("an unknown action did not fail")
	}
}

func TestPinsWriteErrorKeepsSet(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("port = \n"), 0o600) // does not parse: Set refuses to touch it
	p := newPins(cfg, []string{"a"})
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

func TestActionConsoleOpensSignIn(t *testing.T) {
	fed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("Action") != "getSigninToken" {
			http.Error(w, "unexpected action", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"SigninToken":"fake-signin-token"}`))
	}))
	defer fed.Close()
	t.Setenv(sso.FederationEndpointEnv, fed.URL)
	h := newActionsHarness(t)
	var opened []string
	h.a.openURL = func(u string) error { opened = append(opened, u); return nil }

	if err := h.run(tray.Action{Kind: tray.ActConsole}); err == nil {
		t.Error("console with nothing loaded did not fail")
	}
	h.run(tray.Action{Kind: tray.ActLoad, Profile: "dev"})
	if err := h.run(tray.Action{Kind: tray.ActConsole}); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || !strings.HasPrefix(opened[0], fed.URL) || !strings.Contains(opened[0], "SigninToken=fake-signin-token") {
		t.Errorf("opened %q", opened)
	}
}
