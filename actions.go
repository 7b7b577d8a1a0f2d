package main

import (
	"errors"
	"os"
	"runtime"
	"strings"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/tray"
)

// actions are the tray's menu actions, as engine calls.
func (a *app) actions() tray.Actions {
	e := a.engine
	return tray.Actions{
		Load:        func(p string) error { return e.Load(p, false) },
		LoadSlot:    func(p string) error { return e.Load(p, true) },
		Unload:      e.Unload,
		Pin:         e.Pin,
		Login:       func(s string) error { e.Login(s, false); return nil },
		NewSession:  func(s string) error { e.NewSession(s); return nil },
		Logout:      e.Logout,
		CancelLogin: func(s string) error { e.CancelLogin(s); return nil },
		CopyCode:    a.copyCode,
		FindRole:    a.findRole,
		Console:     e.Console,
		RevokeGrant: e.RevokeGrant,
		OpenBrowser: a.openBrowser,
		Favorite:    e.Favorite,
		Copy:        a.copySettings,
		Refresh:     func() error { e.RefreshAll(); return nil },
		Autostart:   func(on bool) error { defer a.changed(); return tray.SetAutostart(on, "") },
		Failed:      a.actionFailed,
	}
}

// copySettings puts the terminal exports or the IDE settings on the
// clipboard; the notification says what, never the token.
func (a *app) copySettings(ide bool) error {
	env := a.engine.Env()
	text, title, body := exports(defaultShell(), env, envOptions{}), creds.NoteCopiedEnv, creds.NoteCopiedEnvBody
	if ide {
		text, title, body = ideSettings(env), creds.NoteCopiedIDE, creds.NoteCopiedIDEBody
	}
	if err := a.clipboard(text); err != nil {
		return errors.New(clipboardAdvice(runtime.GOOS, os.Getenv, err))
	}
	a.notify(creds.Say(title), creds.Say(body, env.FullURI))
	return nil
}

// ideSettings are the lines a run configuration's environment dialog
// takes: what `rolecall exec` gives a command, under a comment naming
// the token file form.
func ideSettings(e control.Env) string {
	var b strings.Builder
	b.WriteString("# rolecall: every client reads _TOKEN (copy again after `rolecall token --rotate`); with SDKs that know it, " +
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + e.TokenFile + " instead follows a rotation (never both: the JavaScript SDK warns)\n")
	_, set := envVars(e, envOptions{})
	for _, kv := range set {
		b.WriteString(kv[0] + "=" + kv[1] + "\n")
	}
	return b.String()
}

// errNoClipboardTool: none of the programs that write the clipboard is
// installed (Linux and the BSDs; clipboardAdvice names the one for this
// desktop).
var errNoClipboardTool = errors.New("no clipboard program (wl-copy, xclip or xsel) is installed")

// clipboardAdvice says what to install for this desktop when copying
// failed.
func clipboardAdvice(goos string, getenv func(string) string, err error) string {
	if goos != "linux" || !errors.Is(err, errNoClipboardTool) {
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

// copyCode puts the user code of a login in progress on the clipboard.
func (a *app) copyCode(session string) error {
	code, _, err := a.engine.PendingLogin(session)
	if err != nil {
		return err
	}
	if err := a.clipboard(code); err != nil {
		return errors.New(clipboardAdvice(runtime.GOOS, os.Getenv, err))
	}
	return nil
}

// openBrowser opens the approval page of a login in progress again.
func (a *app) openBrowser(session string) error {
	_, url, err := a.engine.PendingLogin(session)
	if err != nil {
		return err
	}
	return a.engine.OpenURL(url)
}

// actionFailed is a click that failed: an error notification that says
// what did not work and what to do (tray.Failure); the error goes to the
// log.
func (a *app) actionFailed(act tray.Action, err error) {
	a.log.Warn("menu action failed", "action", act.Kind, "profile", act.Profile, "session", act.Session, "err", err)
	if err := a.notifier.Notice(tray.Failure(act, err)); err != nil {
		a.log.Warn("notification not shown", "err", err)
	}
}

// notify shows a desktop notification.
func (a *app) notify(title, body string) {
	if err := a.notifier.Send(title, body); err != nil {
		a.log.Warn("notification not shown", "err", err)
	}
}

// defaultClipboard writes to the system clipboard.
func defaultClipboard(text string) error { return writeClipboard(text) }
