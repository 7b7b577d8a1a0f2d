package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/atotto/clipboard"

	"github.com/rolecall/rolecall/assets"
	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
	"github.com/rolecall/rolecall/tray"
)

// app is a running rolecall: the engine, the Identity Center client, and
// what the tray needs from them.
type app struct {
	engine   *engine
	ic       identityCenter
	st       settings.Settings
	cfgPath  string
	log      *slog.Logger
	notifier *tray.Notifier
	withTray bool

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	changes chan struct{}
	logins  chan struct{}

	mu     sync.Mutex
	recent []string
}

// startApp loads the settings, opens the keyring and starts the engine
// with the Identity Center as its source.
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
	if f.bind != "" {
		st.Bind = f.bind
	}
	if f.port != 0 {
		st.Port = f.port
	}
	if f.imds {
		st.IMDS = true
	}
	stateDir, err := settings.StateDir()
	if err != nil {
		return nil, err
	}
	sock, err := server.SocketPath()
	if err != nil {
		return nil, err
	}
	kr := sso.NewKeyring("rolecall", log)
	if err := kr.Probe(); err != nil {
		log.Debug("keyring probe", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &app{
		st: st, cfgPath: cfgPath, log: log, withTray: withTray, ctx: ctx, cancel: cancel,
		changes: make(chan struct{}, 1), logins: make(chan struct{}, 1),
	}
	var manager *creds.Manager
	var managerMu sync.Mutex
	a.ic = identityCenter{sso.NewClient(sso.Options{
		Keyring:       kr,
		WriteCLICache: st.CLICacheWrite,
		Logger:        log,
		OnLogin: func(string) {
			managerMu.Lock()
			m := manager
			managerMu.Unlock()
			if m != nil {
				m.RefreshAll()
			}
			notifyChan(a.logins)
		},
		OnChange: a.changed,
	})}
	a.engine, err = startEngine(engineConfig{
		settings: st, tlsCert: f.cert, tlsKey: f.key, socketPath: sock, stateDir: stateDir,
		fetcher: a.ic.client, resolve: a.ic.resolve, sessions: a.ic, keyring: kr, log: log,
		onManager: func(m *creds.Manager) {
			managerMu.Lock()
			manager = m
			managerMu.Unlock()
		},
		onLoginRequired: a.loginRequired,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	log.Info("rolecall serving", "version", version, "url", a.engine.listener.URL(), "token_file", a.engine.secrets.TokenFile,
		"control", sock, "imds", st.IMDS, "audit", st.AuditLog, "tray", withTray)
	return a, nil
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
	if !a.withTray || p.Session == "" {
		a.log.Warn("login required: run `rolecall login`", "profile", p.Name, "session", p.Session)
		return
	}
	a.login(p.Session, true)
}

// login runs a login in the background.
func (a *app) login(session string, automatic bool) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		s, err := a.ic.client.Session(a.ctx, session)
		if err == nil {
			_, err = a.ic.client.Login(a.ctx, s, sso.LoginOptions{Automatic: automatic})
		}
		if err != nil && !errors.Is(err, sso.ErrLoginCancelled) {
			a.notify("Login to "+session+" failed", err.Error())
		}
		a.changed()
	}()
}

// Close stops everything.
func (a *app) Close() {
	a.cancel()
	a.engine.Close()
	a.wg.Wait()
}

// runTray shows the tray until Quit; it must run on the main goroutine.
func (a *app) runTray() {
	a.notifier = tray.NewNotifier(assets.AppIcon())
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
		Do:       a.do,
		Leads:    a.st.NotifyBefore,
		Notifier: a.notifier,
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
		if _, _, err := a.ic.client.Roles(a.ctx); err != nil && a.ctx.Err() == nil {
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
	st := tray.State{Slots: a.engine.manager.Snapshot()}
	st.Autostart, _ = tray.AutostartEnabled()
	if sessions, err := a.ic.client.Status(a.ctx); err == nil {
		for _, s := range sessions {
			st.Sessions = append(st.Sessions, tray.Session{
				Key: s.Key, SignedIn: s.SignedIn, ExpiresAt: s.ExpiresAt, Renewable: s.Renewable,
				LoggingIn: s.LoggingIn, UserCode: s.UserCode,
			})
		}
	}
	if roles, err := a.ic.client.CachedRoles(a.ctx); err == nil {
		for _, r := range roles {
			st.Roles = append(st.Roles, tray.Role{Name: r.Name, Account: r.AccountName, Role: r.RoleName, Session: r.Session})
			if r.Kind == "discovered" && r.AccountName == "" {
				st.Roles[len(st.Roles)-1].Account = r.AccountID
			}
		}
	}
	a.mu.Lock()
	st.Recent = slices.Clone(a.recent)
	a.mu.Unlock()
	return st
}

// do performs a menu click.
func (a *app) do(act tray.Action) {
	ctx, cancel := context.WithTimeout(a.ctx, time.Minute)
	defer cancel()
	m := a.engine.manager
	var err error
	switch act.Kind {
	case tray.ActLoad, tray.ActLoadSlot:
		var p creds.Profile
		if p, err = a.ic.resolve(ctx, server.LoadRequest{Profile: act.Profile}); err == nil {
			slot := creds.DefaultSlot
			if act.Kind == tray.ActLoadSlot {
				slot = p.Name
			}
			if _, err = m.Load(ctx, slot, p); err == nil {
				a.used(p.Name)
			}
		}
		if errors.Is(err, creds.ErrLoginRequired) && p.Session != "" {
			a.login(p.Session, false)
			err = nil
		}
	case tray.ActUnload:
		err = m.Unload(act.Profile)
	case tray.ActPin, tray.ActUnpin:
		if err = m.SetPinned(act.Profile, act.Kind == tray.ActPin); err == nil {
			err = a.savePinned()
		}
	case tray.ActLogin:
		a.login(act.Session, false)
	case tray.ActCopyEnv, tray.ActCopyIDE:
		err = a.copySettings(act.Kind == tray.ActCopyIDE)
	case tray.ActRefresh:
		m.RefreshAll()
	case tray.ActAutostartOn, tray.ActAutostartOff:
		err = tray.SetAutostart(act.Kind == tray.ActAutostartOn, "")
	case tray.ActQuit:
		tray.Quit()
	}
	if err != nil {
		a.log.Warn("menu action failed", "action", act.Kind, "profile", act.Profile, "err", err)
		a.notify("rolecall", err.Error())
	}
	a.changed()
}

// used puts a profile on top of the recent list.
func (a *app) used(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recent = slices.DeleteFunc(a.recent, func(s string) bool { return s == name })
	a.recent = append([]string{name}, a.recent...)
	if len(a.recent) > tray.RecentMax {
		a.recent = a.recent[:tray.RecentMax]
	}
}

// savePinned writes the pinned slots to the settings file, keeping the
// user's other lines.
func (a *app) savePinned() error {
	var pinned []string
	for _, s := range a.engine.manager.Snapshot().Named {
		if s.Pinned {
			pinned = append(pinned, s.Name)
		}
	}
	if pinned == nil {
		pinned = []string{}
	}
	return settings.Set(a.cfgPath, "pinned", pinned)
}

// copySettings puts the terminal exports or the IDE settings on the
// clipboard; the notification says what, never the token.
func (a *app) copySettings(ide bool) error {
	env := server.Env{FullURI: a.engine.listener.URL(), TokenFile: a.engine.secrets.TokenFile}
	text, what := exports(defaultShell(), env), "Terminal exports"
	if ide {
		text = "AWS_CONTAINER_CREDENTIALS_FULL_URI=" + env.FullURI + "\nAWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + env.TokenFile + "\n"
		what = "IDE settings"
	}
	if err := clipboard.WriteAll(text); err != nil {
		return fmt.Errorf("copy to the clipboard: %w (on Linux install xclip, xsel or wl-clipboard)", err)
	}
	a.notify(what+" copied", "Paste them into a terminal or a run configuration: "+env.FullURI)
	return nil
}

func (a *app) notify(title, body string) {
	if a.notifier == nil {
		return
	}
	if err := a.notifier.Send(title, body); err != nil {
		a.log.Warn("notification not shown", "err", err)
	}
}
