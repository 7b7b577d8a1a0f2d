package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/private"
	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
)

func TestSavedStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	os.WriteFile(filepath.Join(dir, "."+stateFileName+"-0123456789abcdef"), []byte("{"), 0o600) // a killed write
	s, last := openState(dir, log)
	if last.Default != "" || len(last.Recent) != 0 {
		t.Fatalf("empty dir gave %+v", last)
	}
	if err := s.Save(remembered{Default: "dev/Admin", Recent: []string{"dev/Admin", "prod"}}); err != nil {
		t.Fatal(err)
	}
	if err := private.Check(filepath.Join(dir, stateFileName)); err != nil {
		t.Fatalf("state file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".state*")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	_, again := openState(dir, log)
	if again.Default != "dev/Admin" || !slices.Equal(again.Recent, []string{"dev/Admin", "prod"}) {
		t.Errorf("after a restart: %+v", again)
	}
	os.WriteFile(filepath.Join(dir, stateFileName), []byte("not json"), 0o600)
	if _, damaged := openState(dir, log); damaged.Default != "" {
		t.Errorf("damaged file gave %+v", damaged)
	}
}

// TestInstanceLock: one rolecall per state dir; the second is told who
// holds it and what to do; the lock is free again after Release.
func TestInstanceLock(t *testing.T) {
	dir := t.TempDir()
	l, err := lockInstance(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockInstance(dir)
	if err == nil || !strings.Contains(err.Error(), "already running") || !strings.Contains(err.Error(), "rolecall stop") || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	l.Release()
	l, err = lockInstance(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l.Release()
}

// TestLoginRefreshesOnlyThatSessionsWaitingSlots: a login or renewal of
// corp fetches corp's login-required slot, not its healthy one and not
// lab's.
func TestLoginRefreshesOnlyThatSessionsWaitingSlots(t *testing.T) {
	// The engine's session follower alone: no keyring or AWS config
	// follower fetches besides it.
	h := &harness{}
	m := creds.NewManager(creds.Config{Fetcher: creds.FetcherFunc(h.fetch), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { m.Close() })
	e := &Engine{manager: m, logins: make(chan struct{}, 1)}
	for _, slot := range []string{"healthy", "signed-out/waiting"} {
		p, _ := fakeResolve(context.Background(), control.LoadRequest{Profile: slot})
		m.Restore(slot, p, false)
	}
	m.Restore("lab", creds.Profile{Name: "signed-out/lab", Session: "lab"}, false)
	waitSlot(t, m, "healthy", creds.StateOK)
	waitSlot(t, m, "signed-out/waiting", creds.StateLoginRequired)
	waitSlot(t, m, "lab", creds.StateLoginRequired)
	healthy, _ := m.Lookup("healthy")
	before := h.fetches.Load()

	e.sessionEvent(sso.Event{Session: needsLogin, Login: true})
	// The login's fetch runs in the background: wait for it (a Close now
	// would cancel it before it takes its turn), then close, which waits
	// for any other fetch the login started.
	for deadline := time.Now().Add(10 * time.Second); h.fetches.Load() == before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	m.Close()
	if n := h.fetches.Load(); n != before+1 {
		t.Errorf("fetches after the login = %d, want 1 (only corp's waiting slot)", n-before)
	}
	if s, _ := m.Lookup("healthy"); s.Creds.AccessKeyID != healthy.Creds.AccessKeyID || s.Creds.Expiration != healthy.Creds.Expiration {
		t.Error("the healthy slot was fetched again")
	}
}

func waitSlot(t *testing.T, m *creds.Manager, name string, want creds.SlotState) creds.Slot {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s, ok := m.Lookup(name)
		if ok && s.State == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %q: %+v, want %s", name, s, want)
		}
	}
}

// TestAWSConfigChangeRetriesPermanentFailures: a slot that failed for good
// (profile gone) is fetched again when the AWS config file changes, and
// not before.
func TestAWSConfigChangeRetriesPermanentFailures(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, []byte("[profile other]\n"), 0o600)
	var fetches atomic.Int32
	fetch := creds.FetcherFunc(func(ctx context.Context, p creds.Profile) (creds.Credentials, error) {
		fetches.Add(1)
		if b, _ := os.ReadFile(cfg); !strings.Contains(string(b), "[profile dev]") {
			return creds.Credentials{}, fmt.Errorf("no profile dev in %s: %w", cfg, creds.ErrPermanent)
		}
		now := time.Now()
		return creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			Issued: now, Expiration: now.Add(time.Hour)}, nil
	})
	m := creds.NewManager(creds.Config{Fetcher: fetch})
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{manager: m, log: slog.New(slog.DiscardHandler), ctx: ctx, cancel: cancel}
	t.Cleanup(func() { cancel(); e.wg.Wait() })
	m.Restore(creds.DefaultSlot, creds.Profile{Name: "dev"}, false)
	s := waitSlot(t, m, creds.DefaultSlot, creds.StateError)
	if !s.Permanent || !strings.Contains(s.Err, "no profile dev") {
		t.Fatalf("slot = %+v", s)
	}
	e.wg.Add(1)
	go e.watchAWSConfig(cfg, 5*time.Millisecond, fileStamp(cfg))
	if n := fetches.Load(); n != 1 {
		t.Fatalf("fetches before the config changed = %d, want 1", n)
	}
	os.WriteFile(cfg, []byte("[profile other]\n[profile dev]\n"), 0o600)
	waitSlot(t, m, creds.DefaultSlot, creds.StateOK)
}

// TestUnresolvedPinStaysAndIsRetried: a pin that cannot be named at start
// (Identity Center unreachable) is a slot in error with the reason, stays
// in the settings file, and serves once it resolves.
func TestUnresolvedPinStaysAndIsRetried(t *testing.T) {
	gokeyring.MockInit()
	dir := t.TempDir()
	var offline atomic.Bool
	offline.Store(true)
	resolve := func(_ context.Context, req control.LoadRequest) (creds.Profile, error) {
		if offline.Load() {
			return creds.Profile{}, errors.New("list accounts: dial tcp 127.0.0.1:9: connection refused")
		}
		return creds.Profile{Name: req.Profile, AccountID: "111111111111", RoleName: "Admin", Session: "corp"}, nil
	}
	fetch := creds.FetcherFunc(func(ctx context.Context, p creds.Profile) (creds.Credentials, error) {
		now := time.Now()
		return creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			Issued: now, Expiration: now.Add(time.Hour)}, nil
	})
	cfgPath := filepath.Join(dir, "config.toml")
	os.WriteFile(cfgPath, []byte("pinned = [\"dev/Admin\"]\n"), 0o600)
	st := settings.Defaults()
	st.Port = 0
	st.Pinned = []string{"dev/Admin"}
	e, err := Start(context.Background(), Config{
		Settings: st, SettingsPath: cfgPath, Socket: filepath.Join(dir, "run", "control.sock"), StateDir: filepath.Join(dir, "state"),
		Fetcher: fetch, Resolve: resolve, Keyring: keyring.New("rolecall-test", nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := waitSlot(t, e.manager, "dev/Admin", creds.StateError)
	if !s.Pinned || !strings.Contains(s.Err, "connection refused") || s.NextRefresh.IsZero() {
		t.Errorf("unresolved pin = %+v", s)
	}
	if got, _ := settings.Load(cfgPath); !slices.Equal(got.Pinned, []string{"dev/Admin"}) {
		t.Errorf("pins in the file = %v", got.Pinned)
	}
	offline.Store(false)
	e.manager.RefreshSession("corp") // what a login does; the backoff would too
	s = waitSlot(t, e.manager, "dev/Admin", creds.StateOK)
	if s.Profile.Session != "corp" {
		t.Errorf("resolved profile = %+v", s.Profile)
	}
}

// TestControlUnloadUnpins: `rolecall unload` of a pinned slot unpins it in
// the settings file, through the same owner as the menu.
func TestControlUnloadUnpins(t *testing.T) {
	h := newHarness(t, "prod", "ci")
	waitSlot(t, h.e.manager, "prod", creds.StateOK)
	if err := control.NewClient(h.e.cfg.Socket).Unload(context.Background(), "prod"); err != nil {
		t.Fatal(err)
	}
	if got := h.filePins(t); !slices.Equal(got, []string{"ci"}) {
		t.Errorf("pins after unload = %v, want [ci]", got)
	}
	if _, ok := h.e.Lookup("ci"); !ok {
		t.Error("the other pinned slot is gone")
	}
}

// TestUnloadIsFinalAcrossRestart: a named slot the user unloaded is not
// loaded on demand, also after a restart (state.json keeps the name),
// until the user loads it again.
func TestUnloadIsFinalAcrossRestart(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Dir(h.cfgPath)
	ctx := context.Background()
	if _, err := h.e.manager.GetSlot(ctx, "prod"); err != nil {
		t.Fatalf("on demand before the unload: %v", err)
	}
	if err := h.e.Unload("prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.manager.GetSlot(ctx, "prod"); !errors.Is(err, creds.ErrUnloaded) {
		t.Fatalf("after the unload: %v, want ErrUnloaded", err)
	}
	stateFile := filepath.Join(dir, "state", stateFileName)
	waitFile(t, stateFile, func(r remembered) bool { return slices.Equal(r.Unloaded, []string{"prod"}) })
	h.e.Close()

	h2 := startHarness(t, dir)
	if _, err := h2.e.manager.GetSlot(ctx, "prod"); !errors.Is(err, creds.ErrUnloaded) {
		t.Fatalf("after a restart: %v, want ErrUnloaded", err)
	}
	if err := h2.e.Load("prod", true); err != nil {
		t.Fatal(err)
	}
	waitFile(t, stateFile, func(r remembered) bool { return len(r.Unloaded) == 0 })
}

// waitFile polls state.json until cond holds (the saver runs after each
// change); the deadline only keeps a broken test from hanging.
func waitFile(t *testing.T, path string, cond func(remembered) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var r remembered
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &r) == nil && cond(r) {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(path)
			t.Fatalf("%s never got there: %s", path, b)
		}
	}
}

// TestStateFileNotAFile: a state.json that is a directory, or 1 MiB of
// garbage (a 45 MiB one cost 297 MiB and 5 s at start), is not read: the
// state starts empty, the file is moved aside, and the next save writes a
// good one.
func TestStateFileNotAFile(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for name, plant := range map[string]func(path string){
		"directory": func(path string) { os.MkdirAll(filepath.Join(path, "inside"), 0o700) },
		"huge": func(path string) {
			os.WriteFile(path, append([]byte(`{"default":"dev","recent":[`), make([]byte, 1<<20)...), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			plant(filepath.Join(dir, stateFileName))
			s, last := openState(dir, log)
			if last.Default != "" || len(last.Recent) != 0 {
				t.Errorf("state from a %s: %+v", name, last)
			}
			if err := s.Save(remembered{Default: "prod"}); err != nil {
				t.Fatalf("save after a %s state.json: %v", name, err)
			}
			if _, again := openState(dir, log); again.Default != "prod" {
				t.Errorf("after the save: %+v", again)
			}
			if _, err := os.Stat(filepath.Join(dir, stateFileName+".broken")); err != nil {
				t.Errorf("the %s was not kept aside: %v", name, err)
			}
		})
	}
}

// TestQuitSavesLastSwitch: what changed just before quitting is what the
// next start restores: the engine saves state.json once more when it
// stops, whether or not the change's event was seen before the stop. (A
// change made without an event, a recent role here, shows it without a
// race: before, only events were saved.)
func TestQuitSavesLastSwitch(t *testing.T) {
	h := newHarness(t)
	if err := h.e.Load("prod", false); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if stateOnDisk(h.e.cfg.StateDir).Default == "prod" {
			break // the switch's event was seen and saved
		}
		if time.Now().After(deadline) {
			t.Fatal("the switch was never saved")
		}
	}
	h.e.recent.Used("dev") // no event: only a save at quit writes it
	h.e.Close()
	if last := stateOnDisk(h.e.cfg.StateDir); last.Default != "prod" || !slices.Contains(last.Recent, "dev") {
		t.Fatalf("state.json after quitting: %+v, want default prod and dev among the recent", last)
	}
}

// TestLoadNotSavedSaysSo: when state.json cannot be written (a full disk;
// here a directory stands where the file goes), `rolecall load` is told
// the slot was loaded but not saved, rather than "loaded".
func TestLoadNotSavedSaysSo(t *testing.T) {
	h := newHarness(t)
	path := filepath.Join(h.e.cfg.StateDir, stateFileName)
	os.Remove(path)
	if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := control.NewClient(h.e.cfg.Socket).Load(context.Background(), control.LoadRequest{Profile: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if s.NotSaved == "" || !strings.Contains(s.NotSaved, stateFileName) {
		t.Errorf("load answer %+v: want NotSaved saying state.json could not be written", s)
	}
	if s.Profile != "prod" {
		t.Errorf("the load itself: %+v", s)
	}
}

// stateOnDisk is what state.json in dir holds now (read only: openState
// would remove the temp file of a save in progress).
func stateOnDisk(dir string) remembered {
	var r remembered
	if b, err := readState(filepath.Join(dir, stateFileName)); err == nil {
		json.Unmarshal(b, &r)
	}
	return r
}

// TestFilesOtherUsersCouldTouch: a state dir left 0777 and a config dir
// and config.toml readable by others are narrowed at start (0700, 0600);
// an instance.lock that another user planted as a symlink there is not
// followed (the start fails saying so, and the link's target is
// untouched).
func TestFilesOtherUsersCouldTouch(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits and symlinks: Unix")
	}
	dir := t.TempDir()
	stateDir, cfgDir := filepath.Join(dir, "state"), filepath.Join(dir, "config")
	os.MkdirAll(stateDir, 0o700)
	os.MkdirAll(cfgDir, 0o700)
	os.Chmod(stateDir, 0o777)
	os.Chmod(cfgDir, 0o755)
	cfgPath := filepath.Join(cfgDir, "config.toml")
	os.WriteFile(cfgPath, []byte("port = 4144\n"), 0o644)
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	os.Symlink(victim, filepath.Join(stateDir, lockFileName))

	st := settings.Defaults()
	st.Port = 0
	_, err := Start(context.Background(), Config{Settings: st, SettingsPath: cfgPath, StateDir: stateDir,
		Socket: filepath.Join(dir, "run", "control.sock"), Keyring: keyring.New("rolecall-test", nil)})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("start with a planted symlink instance.lock: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	for path, want := range map[string]os.FileMode{stateDir: 0o700, cfgDir: 0o700, cfgPath: 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", filepath.Base(path), st.Mode().Perm(), err, want)
		}
	}
}

// TestControlHandoutsAudited: credentials handed out over the control
// channel (credential-process, console, exec read them there) reach the
// audit log like the listener's: slot, role, masked key id, and the pid
// and executable of the process that asked. Before, only a log line said
// so.
func TestControlHandoutsAudited(t *testing.T) {
	h := newHarness(t)
	if err := h.e.Load("prod", true); err != nil {
		t.Fatal(err)
	}
	cr, err := control.NewClient(h.e.cfg.Socket).Credentials(context.Background(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	h.e.Close() // the audit log is written through at Close
	entries, err := server.ReadAudit(filepath.Join(h.e.cfg.StateDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, a := range entries {
		if a.Client == server.ControlClient && a.Slot == "prod" {
			found = true
			if strings.Contains(a.KeyID, cr.AccessKeyID) || a.KeyID == "" {
				t.Errorf("key id %q: want it masked", a.KeyID)
			}
			if runtime.GOOS == "linux" && (a.PID != os.Getpid() || a.Exe == "") {
				t.Errorf("pid %d exe %q: want this test process (%d)", a.PID, a.Exe, os.Getpid())
			}
		}
	}
	if !found {
		t.Errorf("no audit line for the control channel's hand-out: %+v", entries)
	}
}
