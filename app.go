package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/rolecall/rolecall/assets"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
	"github.com/rolecall/rolecall/tray"
)

// app is the tray adapter: it turns the engine's snapshots into the
// tray's State and the tray's clicks into engine calls, and owns the role
// picker's page. Every piece of state it shows has its owner in the
// engine.
type app struct {
	engine    *engine.Engine
	picker    rolePicker
	settings  settings.Settings
	log       *slog.Logger
	clipboard func(string) error // tests replace it
	notifier  *tray.Notifier

	changes chan struct{} // the tray should render again
	wg      sync.WaitGroup
}

// newApp is the tray adapter, before its engine starts: it makes the
// engine interactive and gives it the desktop's notifications.
func newApp(cfg *engine.Config) *app {
	a := &app{
		settings: cfg.Settings, log: cfg.Log, clipboard: defaultClipboard, changes: make(chan struct{}, 1),
		notifier: tray.NewNotifier(assets.AppIcon(), cfg.Log),
	}
	cfg.Interactive, cfg.Failed = true, a.engineFailed
	return a
}

// engineFailed is a login or a load that failed in the background: an
// error notification in the tray's words, the error in the log.
func (a *app) engineFailed(op engine.Op, name string, err error) {
	act := tray.Action{Kind: tray.ActLogin, Session: name}
	if op == engine.OpLoad {
		act = tray.Action{Kind: tray.ActLoad, Profile: name}
	}
	a.actionFailed(act, err)
}

// changed asks the tray to render again.
func (a *app) changed() {
	select {
	case a.changes <- struct{}{}:
	default:
	}
}

// Close stops the picker's page, then the engine.
func (a *app) Close() {
	a.picker.close()
	a.engine.Close()
}

// runTray shows the tray until Quit; it must run on the main goroutine.
func (a *app) runTray(ctx context.Context) {
	defer a.notifier.Close()
	events, stop := a.engine.Subscribe()
	ctx, cancel := context.WithCancel(ctx)
	a.wg.Add(1)
	go func() { // the engine's changes into the tray's change channel
		defer a.wg.Done()
		defer stop()
		for {
			select {
			case <-events:
				a.changed()
			case <-ctx.Done():
				return
			}
		}
	}()
	defer a.wg.Wait()
	defer cancel()
	tray.Run(tray.Options{
		State:    a.trayState,
		Changes:  a.changes,
		Actions:  a.actions(),
		Leads:    a.settings.NotifyBefore,
		Notifier: a.notifier,
		Logger:   a.log,
		OnReady:  func() { a.log.Info("tray icon shown") },
	})
}

// trayState is what the menu shows; it makes no network call.
func (a *app) trayState() tray.State {
	state := tray.State{Slots: a.engine.Snapshot(), Recent: a.engine.Recent(), Favorites: a.engine.Favorites(), Grants: a.engine.Grants()}
	if clipboardMissing() {
		state.NoClipboard = "install xclip, xsel or wl-clipboard"
	}
	state.Autostart, _ = tray.AutostartEnabled()
	if sessions, err := a.engine.Sessions(); err == nil {
		waiting := a.engine.Waiting()
		for _, s := range sessions {
			state.Sessions = append(state.Sessions, tray.Session{
				Key: s.Key, Label: s.Label, Login: s.Kind == sso.KindLogin, SignedIn: s.SignedIn, ExpiresAt: s.ExpiresAt, Renewable: s.Renewable,
				LoggingIn: s.LoggingIn, UserCode: s.UserCode, Ends: s.Ends, Waiting: waiting[s.Key],
			})
		}
	}
	if roles, err := a.engine.Roles(); err == nil {
		for _, r := range roles {
			state.Roles = append(state.Roles, tray.Role{Name: r.Name, Account: r.AccountName, AccountID: r.AccountID, Role: r.RoleName, Session: r.Session})
			if r.Kind == "discovered" && r.AccountName == "" {
				state.Roles[len(state.Roles)-1].Account = r.AccountID
			}
		}
	}
	return state
}
