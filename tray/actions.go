//go:build cgo || !darwin

package tray

import "fmt"

// Actions are what the menu's clicks do, handed in by main: the tray never
// calls the engine or Identity Center itself. Each runs in its own
// goroutine; an error is passed to Failed.
type Actions struct {
	Load     func(profile string) error // into the default slot
	LoadSlot func(profile string) error // into its own named slot
	Unload   func(slot string) error
	Pin      func(slot string, pinned bool) error
	Login    func(session string) error
	// Logout ends a session: its token is forgotten, its slots emptied.
	Logout func(session string) error
	// NewSession ends the session's Identity Center session and signs in
	// anew, for its full length.
	NewSession func(session string) error
	// CancelLogin, CopyCode and OpenBrowser act on a login waiting for
	// approval: stop it, copy its user code, open its page again.
	CancelLogin func(session string) error
	CopyCode    func(session string) error
	OpenBrowser func(session string) error
	// Favorite stars or unstars a role.
	Favorite func(profile string, on bool) error
	// FindRole opens the role picker page.
	FindRole func() error
	// Console opens the AWS console signed in as a slot's role.
	Console func(slot string) error
	// RevokeGrant ends a grant at once.
	RevokeGrant func(name string) error
	Copy        func(ide bool) error // terminal exports, or IDE settings
	Refresh     func() error
	Autostart   func(on bool) error
	// Quit runs before the icon goes away (optional).
	Quit func()
	// Failed is told of an action that failed (optional).
	Failed func(Action, error)
}

// Do performs act, as a click on its item does.
func (a Actions) Do(act Action) {
	if err := a.call(act); err != nil && a.Failed != nil {
		a.Failed(act, err)
	}
}

func (a Actions) call(act Action) error {
	switch act.Kind {
	case ActLoad:
		return callWith(a.Load, act.Profile)
	case ActLoadSlot:
		return callWith(a.LoadSlot, act.Profile)
	case ActUnload:
		return callWith(a.Unload, act.Profile)
	case ActPin, ActUnpin:
		return callWith2(a.Pin, act.Profile, act.Kind == ActPin)
	case ActLogin:
		return callWith(a.Login, act.Session)
	case ActLogout:
		return callWith(a.Logout, act.Session)
	case ActNewSession:
		return callWith(a.NewSession, act.Session)
	case ActCancelLogin:
		return callWith(a.CancelLogin, act.Session)
	case ActCopyCode:
		return callWith(a.CopyCode, act.Session)
	case ActOpenBrowser:
		return callWith(a.OpenBrowser, act.Session)
	case ActFavorite, ActUnfavorite:
		return callWith2(a.Favorite, act.Profile, act.Kind == ActFavorite)
	case ActCopyEnv, ActCopyIDE:
		return callWith(a.Copy, act.Kind == ActCopyIDE)
	case ActRefresh:
		return callNone(a.Refresh)
	case ActAutostartOn, ActAutostartOff:
		return callWith(a.Autostart, act.Kind == ActAutostartOn)
	case ActConsole:
		return callWith(a.Console, act.Profile)
	case ActFindRole:
		return callNone(a.FindRole)
	case ActRevokeGrant:
		return callWith(a.RevokeGrant, act.Grant)
	case ActQuit:
		if a.Quit != nil {
			a.Quit()
		}
		Quit()
		return nil
	}
	return fmt.Errorf("menu action %d is not known", act.Kind)
}

var errMissing = fmt.Errorf("this menu action is not available here")

// callWith, callWith2 and callNone call an action that main may have left
// out (nil): then the click says the action is not available here.
func callWith[T any](f func(T) error, arg T) error {
	if f == nil {
		return errMissing
	}
	return f(arg)
}

func callWith2[T, U any](f func(T, U) error, a T, b U) error {
	if f == nil {
		return errMissing
	}
	return f(a, b)
}

func callNone(f func() error) error {
	if f == nil {
		return errMissing
	}
	return f()
}
