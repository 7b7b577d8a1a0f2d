package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/atotto/clipboard"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/sso"
	"github.com/rolecall/rolecall/tray"
)

// actionTimeout bounds what one click may wait for (a role's first fetch).
const actionTimeout = time.Minute

// actions are the tray's menu actions, over the app's owners.
func (a *app) actions() tray.Actions {
	return tray.Actions{
		Load:     func(p string) error { return a.load(p, false) },
		LoadSlot: func(p string) error { return a.load(p, true) },
		Unload:   a.unload,
		Pin:      a.pin,
		Login:    func(s string) error { a.startLogin(s, false); return nil },
		CancelLogin: func(s string) error {
			defer a.changed()
			a.ic.CancelLogin(s)
			return nil
		},
		CopyCode:    a.copyCode,
		FindRole:    a.findRole,
		Console:     a.console,
		OpenBrowser: a.openBrowser,
		Favorite: func(p string, on bool) error {
			defer a.changed()
			return a.favs.Set(p, on)
		},
		Copy: a.copySettings,
		Refresh: func() error {
			a.engine.manager.RefreshAll()
			return nil
		},
		Autostart: func(on bool) error { defer a.changed(); return tray.SetAutostart(on, "") },
		Failed:    a.actionFailed,
	}
}

// load resolves profile and loads it into the default slot, or into its
// own named slot. A profile whose session needs a login starts the login
// instead of failing.
func (a *app) load(profile string, named bool) error {
	defer a.changed()
	ctx, cancel := context.WithTimeout(a.ctx, actionTimeout)
	defer cancel()
	p, err := a.resolve(ctx, control.LoadRequest{Profile: profile})
	if err == nil {
		slot := creds.DefaultSlot
		if named {
			slot = p.Name
		}
		if _, err = a.engine.manager.Load(ctx, slot, p); err == nil {
			a.recent.Used(p.Name)
			notifyChan(a.saveState)
		}
	}
	if errors.Is(err, creds.ErrLoginRequired) && p.Session != "" {
		a.startLogin(p.Session, false)
		return nil
	}
	return err
}

// unload empties a slot; a pinned named slot stops being pinned, or it
// would come back at the next start.
func (a *app) unload(slot string) error {
	defer a.changed()
	return slotsWithPins{Manager: a.engine.manager, pins: a.pins}.Unload(slot)
}

// pin pins or unpins a named slot: the settings file first (it is what
// survives), then the slot's mark.
func (a *app) pin(slot string, pinned bool) error {
	defer a.changed()
	if err := a.pins.Set(slot, pinned); err != nil {
		return err
	}
	if err := a.engine.manager.SetPinned(slot, pinned); err != nil && !errors.Is(err, creds.ErrNoSuchSlot) {
		return err
	}
	return nil
}

// startLogin runs a login in the background; a failure is notified.
func (a *app) startLogin(session string, automatic bool) {
	a.spawn(func() {
		err := a.signIn(a.ctx, session, automatic)
		if err != nil && !errors.Is(err, sso.ErrLoginCancelled) && a.ctx.Err() == nil {
			a.notify("Login to "+session+" failed", err.Error())
		}
		a.changed()
	})
}

// spawn runs f in a goroutine that Close waits for; once Close has begun
// (a click or a picker request may still arrive), f does not run.
func (a *app) spawn(f func()) {
	a.lifeMu.Lock()
	defer a.lifeMu.Unlock()
	if a.closing {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// signedIn records the sign-in time of a session rolecall renews: its end
// is then known. A session that cannot be renewed ends with its token.
func (a *app) signedIn(session string) {
	sessions, err := a.ic.Status(a.ctx)
	if err != nil {
		return
	}
	for _, s := range sessions {
		if s.Renewable && (s.Key == session || session == "" && len(sessions) == 1) {
			a.signins.SignedIn(s.Key, time.Now())
		}
	}
}

// copySettings puts the terminal exports or the IDE settings on the
// clipboard; the notification says what, never the token.
func (a *app) copySettings(ide bool) error {
	env := control.Env{FullURI: a.engine.listener.URL(), TokenFile: a.engine.secrets.tokenFile, Token: a.engine.secrets.Token()}
	text, what := exports(defaultShell(), env, envOptions{}), "Terminal exports"
	if ide {
		text, what = ideSettings(env), "IDE settings"
	}
	if err := a.clipboard(text); err != nil {
		return errors.New(clipboardAdvice(runtime.GOOS, os.Getenv, err))
	}
	a.notify(what+" copied", "Paste them into a terminal or a run configuration: "+env.FullURI)
	return nil
}

// ideSettings are the lines a run configuration's environment dialog
// takes: both token forms, as `rolecall env` exports them.
func ideSettings(e control.Env) string {
	return "# rolecall: SDKs that know _TOKEN_FILE read it; the others (Debian's awscli, boto3 1.26) read _TOKEN: copy again after `rolecall token --rotate`\n" +
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + e.FullURI + "\n" +
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + e.TokenFile + "\n" +
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=" + e.Token + "\n"
}

// clipboardAdvice says what to install for this desktop when copying
// failed (the clipboard library's own text advises Termux).
func clipboardAdvice(goos string, getenv func(string) string, err error) string {
	if goos != "linux" || !strings.Contains(err.Error(), "No clipboard utilities") {
		return creds.Say(creds.ClipboardOther, err)
	}
	switch {
	case getenv("WAYLAND_DISPLAY") != "":
		return creds.Say(creds.ClipboardWayland)
	case getenv("DISPLAY") != "":
		return creds.Say(creds.ClipboardX11)
	}
	return creds.Say(creds.ClipboardNone)
}

// loginInProgress is the state of session's login waiting for approval.
func (a *app) loginInProgress(session string) (sso.SessionStatus, error) {
	sessions, err := a.ic.Status(a.ctx)
	if err != nil {
		return sso.SessionStatus{}, err
	}
	for _, s := range sessions {
		if s.Key == session && s.LoggingIn && s.UserCode != "" {
			return s, nil
		}
	}
	return sso.SessionStatus{}, errors.New("no login to " + session + " is waiting for approval")
}

// copyCode puts the user code of a login in progress on the clipboard.
func (a *app) copyCode(session string) error {
	s, err := a.loginInProgress(session)
	if err != nil {
		return err
	}
	if err := a.clipboard(s.UserCode); err != nil {
		return errors.New(clipboardAdvice(runtime.GOOS, os.Getenv, err))
	}
	return nil
}

// openBrowser opens the approval page of a login in progress again.
func (a *app) openBrowser(session string) error {
	s, err := a.loginInProgress(session)
	if err != nil {
		return err
	}
	return a.openURL(s.VerificationURL)
}

func (a *app) actionFailed(act tray.Action, err error) {
	a.log.Warn("menu action failed", "action", act.Kind, "profile", act.Profile, "err", err)
	a.notify("rolecall", err.Error())
}

func (a *app) notify(title, body string) {
	if a.show != nil {
		a.show(title, body)
	}
}

// defaultClipboard writes to the system clipboard.
func defaultClipboard(text string) error { return clipboard.WriteAll(text) }

// console opens the AWS console signed in as the role of slot (the
// default slot for ""), through the federation sign-in.
func (a *app) console(slot string) error {
	s, ok := a.engine.manager.Lookup(slot)
	if !ok || !s.Creds.ValidAt(time.Now()) {
		return fmt.Errorf("%s has no valid credentials to sign in to the console with", creds.SlotLabel(slot))
	}
	ctx, cancel := context.WithTimeout(a.ctx, actionTimeout)
	defer cancel()
	u, err := sso.ConsoleURL(ctx, s.Creds, profileRegion(ctx, s.Profile.Name))
	if err != nil {
		return err
	}
	return a.openURL(u)
}
