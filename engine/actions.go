package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/sso"
)

// actionTimeout bounds what one action may wait for (a role's first fetch).
const actionTimeout = time.Minute

// Snapshot is a copy of the slots.
func (e *Engine) Snapshot() creds.State { return e.manager.Snapshot() }

// Lookup is a copy of one slot; false when it is not loaded.
func (e *Engine) Lookup(slot string) (creds.Slot, bool) { return e.manager.Lookup(slot) }

// Subscribe returns a channel that receives (coalesced) whenever what a
// UI shows may have changed: a slot, a session, the discovered roles, the
// favourites; stop ends the subscription.
func (e *Engine) Subscribe() (<-chan struct{}, func()) { return e.changes.subscribe() }

// Env is what a client needs to reach the listener's default slot: its
// URL, the token file, the token in force and the slot's region.
func (e *Engine) Env() control.Env {
	s, _ := e.manager.Lookup(creds.DefaultSlot)
	return control.Env{FullURI: e.listener.URL(), TokenFile: e.secrets.tokenFile, Token: e.secrets.Token(),
		Region: s.Profile.Region, IMDS: e.cfg.Settings.IMDS}
}

// RotateToken replaces the bearer token everywhere it is kept, or nowhere.
func (e *Engine) RotateToken() (string, error) { return e.secrets.RotateToken() }

// Load resolves profile and loads it into the default slot, or into its
// own named slot; it counts as recently used. A profile whose session
// needs a login starts the login instead of failing, and waits for it: it
// is loaded once the login completes (Waiting lists it meanwhile). A
// later load into the same slot wins over one still waiting.
func (e *Engine) Load(profile string, named bool) error {
	defer e.changes.notify()
	ctx, cancel := context.WithTimeout(e.ctx, actionTimeout)
	defer cancel()
	p, err := e.resolve(ctx, control.LoadRequest{Profile: profile})
	if err == nil {
		slot := creds.DefaultSlot
		if named {
			slot = p.Name
		}
		if _, err = e.manager.Load(ctx, slot, p); err == nil {
			e.recent.Used(p.Name)
			notify(e.saveState)
			e.waiting.drop(p.Name, named)
		}
	}
	if errors.Is(err, creds.ErrLoginRequired) && p.Session != "" {
		e.waiting.drop(p.Name, named)
		e.waiting.set(p.Session, waitingLoad{profile: profile, named: named})
		e.Login(p.Session, false)
		return nil
	}
	return err
}

// Unload empties a slot; a pinned named slot stops being pinned, or it
// would come back at the next start.
func (e *Engine) Unload(slot string) error {
	defer e.changes.notify()
	return e.slots().Unload(slot)
}

// Pin pins or unpins a named slot: the settings file first (it is what
// survives), then the slot's mark.
func (e *Engine) Pin(slot string, pinned bool) error {
	defer e.changes.notify()
	if err := e.pinned.Set(slot, pinned); err != nil {
		return err
	}
	if err := e.manager.SetPinned(slot, pinned); err != nil && !errors.Is(err, creds.ErrNoSuchSlot) {
		return err
	}
	return nil
}

// Favorite stars or unstars a role (the settings file's `favorites`).
func (e *Engine) Favorite(profile string, on bool) error {
	defer e.changes.notify()
	return e.favorites.Set(profile, on)
}

// Favorites are the starred roles, in the settings file's order.
func (e *Engine) Favorites() []string { return e.favorites.List() }

// Recent are the recently used roles, most recent first.
func (e *Engine) Recent() []string { return e.recent.List() }

// RefreshAll fetches every slot again.
func (e *Engine) RefreshAll() { e.manager.RefreshAll() }

// Login signs in to session in the background (empty: the only one);
// automatic marks a login that no click asked for. A failure is notified.
func (e *Engine) Login(session string, automatic bool) {
	e.login(session, sso.LoginOptions{Automatic: automatic})
}

// NewSession starts a new Identity Center session for session in the
// background (`rolecall login --force`): signing in again keeps the
// session's end, so the current one is ended first; a long job then has
// the full session length.
func (e *Engine) NewSession(session string) { e.login(session, sso.LoginOptions{Force: true}) }

func (e *Engine) login(session string, opts sso.LoginOptions) {
	e.spawn(func() {
		err := e.signIn(e.ctx, session, opts)
		if err != nil {
			e.waiting.take(session) // given up: the role is not served later
		}
		if err != nil && !errors.Is(err, sso.ErrLoginCancelled) && e.ctx.Err() == nil {
			e.report(OpLogin, session, err)
		}
		e.changes.notify()
	})
}

// CancelLogin gives up the login to session waiting for approval.
func (e *Engine) CancelLogin(session string) {
	defer e.changes.notify()
	e.ic.CancelLogin(session)
}

// PendingLogin is the login to session waiting for approval: its user code
// and approval page.
func (e *Engine) PendingLogin(session string) (code, url string, err error) {
	sessions, err := e.ic.Status(e.ctx)
	if err != nil {
		return "", "", err
	}
	for _, s := range sessions {
		if s.Key == session && s.LoggingIn && s.UserCode != "" {
			return s.UserCode, s.VerificationURL, nil
		}
	}
	return "", "", errors.New("no login to " + session + " is waiting for approval")
}

// Session is an SSO session as a UI shows it: what sso knows of it, its
// sign-in time and predicted end (SessionStatus.Ends) included.
type Session = sso.SessionStatus

// Sessions lists the SSO sessions of the AWS config; it makes no network
// call.
func (e *Engine) Sessions() ([]Session, error) { return e.ic.Status(e.ctx) }

// Roles are the roles known without a network call: the AWS config's
// profiles and the roles discovered last.
func (e *Engine) Roles() ([]sso.Role, error) { return e.ic.CachedRoles(e.ctx) }

// Console opens the AWS console signed in as the role of slot (the
// default slot for ""), through the federation sign-in.
func (e *Engine) Console(slot string) error {
	s, ok := e.manager.Lookup(slot)
	if !ok || !s.Creds.ValidAt(time.Now()) {
		return fmt.Errorf("%s has no valid credentials to sign in to the console with", creds.SlotLabel(slot))
	}
	ctx, cancel := context.WithTimeout(e.ctx, actionTimeout)
	defer cancel()
	u, err := sso.ConsoleURL(ctx, s.Creds, cmp.Or(s.Profile.Region, firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")))
	if err != nil {
		return err
	}
	return e.OpenURL(u)
}

// OpenURL shows u in the user's browser. u may carry a secret (the
// console sign-in URL, a login's URL, the role picker's one-time link), so
// it never goes on the launcher's command line, which other users can
// read: the launcher gets a 0600 page that forwards to a one-time,
// same-user-only loopback link answering with u (package handoff). It
// returns once the launcher started.
func (e *Engine) OpenURL(u string) error {
	if e.handoff == nil {
		return errors.New("no browser here: open the address yourself")
	}
	return e.handoff.Open(u)
}

// loginRequired: a slot needs a login. With a person at the desktop the
// login starts by itself (the browser opens, the code is shown); headless,
// it is logged.
func (e *Engine) loginRequired(p creds.Profile) {
	ls, login := e.ic.LoginSessionOf(e.ctx, p.Session)
	if !e.cfg.Interactive || p.Session == "" {
		run := "rolecall login"
		switch {
		case login:
			run += " --profile " + ls.Profile()
		case p.Session != "":
			run += " --sso-session " + p.Session
		}
		e.log.Warn("login required", "profile", p.Name, "session", p.Session, "run", run)
		return
	}
	e.Login(p.Session, true)
}
