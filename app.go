package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atotto/clipboard"
	"github.com/pkg/browser"

	"github.com/rolecall/rolecall/assets"
	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
	"github.com/rolecall/rolecall/tray"
)

// app is a running rolecall: the engine, the Identity Center client, and
// what the tray needs from them. It is wiring: each piece of state has its
// own owner (the manager: slots; sso.Client: sessions; pins; recent).
type app struct {
	keyring  *keyring.Keyring // closed last: pending writes get a last try
	engine   *engine
	ic       *sso.Client
	pins     *pins
	favs     *pins
	recent   *recent
	signins  *signins
	picker   rolePicker
	state    *savedState   // state.json: the default slot's profile, the recent roles
	lock     *instanceLock // one rolecall per state dir
	st       settings.Settings
	log      *slog.Logger
	withTray bool

	// What the actions reach beyond the owners; tests replace them.
	resolve   func(context.Context, control.LoadRequest) (creds.Profile, error)
	signIn    func(ctx context.Context, session string, automatic bool) error
	clipboard func(string) error
	openURL   func(string) error
	show      func(title, body string) // a desktop notification

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	lifeMu    sync.Mutex // guards closing, so no goroutine is added once Close waits
	closing   bool
	changes   chan struct{} // the tray should render again
	logins    chan struct{} // a session signed in: discover its roles
	saveState chan struct{} // the recent roles changed: save state.json
	stopped   chan struct{} // closed by `rolecall stop`, or by a failure after start
	failed    atomic.Pointer[error]
	stopOnce  sync.Once
}

// startApp loads the settings, opens the keyring and starts the engine
// with Identity Center as its source.
func (c *cli) startApp(f serveFlags, withTray bool) (*app, error) {
	log := newLogger(c.stderr, f.debug)
	cfgPath, err := settings.Path()
	if err != nil {
		return nil, err
	}
	st, err := settings.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	f.apply(&st)
	stateDir, err := settings.StateDir()
	if err != nil {
		return nil, err
	}
	lock, err := lockInstance(stateDir)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			lock.Release()
		}
	}()
	if removed, err := settings.RemoveTemps(cfgPath); err != nil || len(removed) > 0 {
		log.Info("removed temp files of an interrupted settings write", "files", removed, "err", err)
	}
	saved, last := openState(stateDir, log)
	sock, err := control.SocketPath()
	if err != nil {
		return nil, err
	}
	// The keyring is read once the listener serves (engine.readKeyring):
	// no D-Bus round trip before it.
	kr := keyring.New("rolecall", log)
	ctx, cancel := context.WithCancel(context.Background())
	a := &app{
		ic: sso.NewClient(sso.Options{Keyring: kr, WriteCLICache: st.CLICacheWrite, LoginFlow: st.LoginFlow, Logger: log}),
		st: st, log: log, withTray: withTray, ctx: ctx, cancel: cancel,
		pins: newPins(cfgPath, st.Pinned), favs: newFavorites(cfgPath, st.Favorites),
		recent:  &recent{names: last.Recent[:min(len(last.Recent), recentMax)]},
		signins: newSignins(filepath.Join(stateDir, "signins.json"), log),
		state:   saved, lock: lock,
		changes: make(chan struct{}, 1), logins: make(chan struct{}, 1), saveState: make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	ic := identityCenter{a.ic}
	a.keyring = kr
	a.resolve, a.clipboard, a.openURL = ic.resolve, defaultClipboard, browser.OpenURL
	a.signIn = func(ctx context.Context, session string, automatic bool) error {
		err := ic.signIn(ctx, session, automatic)
		if err == nil {
			a.signedIn(session)
		}
		return err
	}
	a.engine, err = startEngine(engineConfig{
		settings: st, tlsCert: f.cert, tlsKey: f.key, socketPath: sock, stateDir: stateDir,
		fetcher: a.ic, resolve: ic.resolve, sessions: ic, keyring: kr, log: log,
		pins: a.pins, restoreDefault: last.Default, onLoginRequired: a.loginRequired,
		stop: a.stop, fail: a.fail,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	started = true
	a.wg.Add(4)
	go a.followSessions()
	go a.followKeyring()
	go a.keepState()
	go a.watchAWSConfig(sso.ConfigPath(), awsConfigPoll, fileStamp(sso.ConfigPath()))
	log.Info("rolecall serving", "version", version, "url", a.engine.listener.URL(), "token_file", a.engine.secrets.tokenFile,
		"control", sock, "imds", st.IMDS, "audit", st.AuditLog, "tray", withTray)
	return a, nil
}

// followKeyring fetches the slots that wait for something as soon as a
// locked or silent keyring answers again (an SSO session's token could not
// be read), instead of at their next retry.
func (a *app) followKeyring() {
	defer a.wg.Done()
	for {
		select {
		case <-a.keyring.Answers():
			a.log.Info("the keyring answers again: fetching the slots that wait")
			a.engine.manager.RefreshWaiting(func(creds.Profile) bool { return true })
		case <-a.ctx.Done():
			return
		}
	}
}

// followSessions reacts to Identity Center events until the app stops: a
// login or renewal refreshes that session's slots that wait for it (not
// the healthy ones, not other sessions') and starts a discovery; every
// event makes the tray render again.
func (a *app) followSessions() {
	defer a.wg.Done()
	events, stop := a.ic.Subscribe()
	defer stop()
	for {
		select {
		case ev := <-events:
			a.sessionEvent(ev)
		case <-a.ctx.Done():
			return
		}
	}
}

// sessionEvent is what one Identity Center event changes.
func (a *app) sessionEvent(ev sso.Event) {
	if ev.Login {
		a.engine.manager.RefreshSession(ev.Session)
		notifyChan(a.logins)
	}
	a.changed()
}

// notifyChan sends on a coalescing channel without blocking.
func notifyChan(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (a *app) changed() { notifyChan(a.changes) }

// loginRequired: a slot needs a login. With a tray the login starts by
// itself (the browser opens, the code is shown); headless, it is logged.
func (a *app) loginRequired(p creds.Profile) {
	if p.Session != "" {
		a.signins.Ended(p.Session, time.Now(), a.st.SSOSessionDuration)
	}
	if !a.withTray || p.Session == "" {
		run := "rolecall login"
		if p.Session != "" {
			run += " --sso-session " + p.Session
		}
		a.log.Warn("login required", "profile", p.Name, "session", p.Session, "run", run)
		return
	}
	a.startLogin(p.Session, true)
}

// Close stops everything; the instance lock goes last.
func (a *app) Close() {
	a.lifeMu.Lock()
	a.closing = true
	a.lifeMu.Unlock()
	a.cancel()
	a.picker.close()
	a.engine.Close()
	a.wg.Wait()
	a.keyring.Close() // last attempt at keyring writes still pending
	a.lock.Release()
}

// runTray shows the tray until Quit; it must run on the main goroutine.
func (a *app) runTray() {
	notifier := tray.NewNotifier(assets.AppIcon(), a.log)
	defer notifier.Close()
	a.show = func(title, body string) {
		if err := notifier.Send(title, body); err != nil {
			a.log.Warn("notification not shown", "err", err)
		}
	}
	events, stop := a.engine.manager.Subscribe()
	a.wg.Add(2)
	go func() { // manager events into the tray's change channel
		defer a.wg.Done()
		defer stop()
		for {
			select {
			case <-events:
				a.changed()
			case <-a.ctx.Done():
				return
			}
		}
	}()
	go a.discoverLoop()
	tray.Run(tray.Options{
		State:    a.trayState,
		Changes:  a.changes,
		Actions:  a.actions(),
		Leads:    a.st.NotifyBefore,
		Notifier: notifier,
		Logger:   a.log,
		OnReady:  func() { a.log.Info("tray icon shown") },
	})
}

// discoverLoop lists roles after each login and every ten minutes, off the
// menu's path.
func (a *app) discoverLoop() {
	defer a.wg.Done()
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if _, _, err := a.ic.Roles(a.ctx); err != nil && a.ctx.Err() == nil {
			a.log.Warn("role discovery failed", "err", err)
		}
		a.changed()
		select {
		case <-a.logins:
		case <-t.C:
		case <-a.ctx.Done():
			return
		}
	}
}

// trayState is what the menu shows; it makes no network call.
func (a *app) trayState() tray.State {
	st := tray.State{Slots: a.engine.manager.Snapshot(), Recent: a.recent.List(), Favorites: a.favs.List()}
	if clipboard.Unsupported {
		st.NoClipboard = "install xclip, xsel or wl-clipboard"
	}
	st.Autostart, _ = tray.AutostartEnabled()
	if sessions, err := a.ic.Status(a.ctx); err == nil {
		for _, s := range sessions {
			ts := tray.Session{
				Key: s.Key, SignedIn: s.SignedIn, ExpiresAt: s.ExpiresAt, Renewable: s.Renewable,
				LoggingIn: s.LoggingIn, UserCode: s.UserCode,
			}
			if s.Renewable {
				ts.Ends = a.signins.Ends(s.Key, a.st.SSOSessionDuration)
			}
			st.Sessions = append(st.Sessions, ts)
		}
	}
	if roles, err := a.ic.CachedRoles(a.ctx); err == nil {
		for _, r := range roles {
			st.Roles = append(st.Roles, tray.Role{Name: r.Name, Account: r.AccountName, AccountID: r.AccountID, Role: r.RoleName, Session: r.Session})
			if r.Kind == "discovered" && r.AccountName == "" {
				st.Roles[len(st.Roles)-1].Account = r.AccountID
			}
		}
	}
	return st
}

// stop ends the process (`rolecall stop`).
func (a *app) stop() { a.stopOnce.Do(func() { close(a.stopped) }) }

// fail ends the process because of err, found after the start (a TLS pair
// saved in the keyring that turns out unusable): the exit status says so.
func (a *app) fail(err error) {
	a.failed.CompareAndSwap(nil, &err)
	a.stop()
}

// err is why the process ended, if it failed.
func (a *app) err() error {
	if e := a.failed.Load(); e != nil {
		return *e
	}
	return nil
}
