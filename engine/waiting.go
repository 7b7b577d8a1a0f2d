package engine

import (
	"context"
	"errors"
	"sync"

	"github.com/rolecall/rolecall/creds"
)

// waitingLoad is a role asked for while its session was signed out: it is
// loaded once a login of the session completes (from the tray, the
// picker or `rolecall login`), then forgotten.
type waitingLoad struct {
	profile string
	named   bool
}

// waiting keeps, per session, the last role asked for while it was signed
// out (the last request wins).
type waiting struct {
	mu sync.Mutex
	m  map[string]waitingLoad
}

func (w *waiting) set(session string, l waitingLoad) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]waitingLoad{}
	}
	w.m[session] = l
}

// take forgets and returns session's waiting role.
func (w *waiting) take(session string) (waitingLoad, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, ok := w.m[session]
	delete(w.m, session)
	return l, ok
}

// drop forgets the waiting loads that a load of profile (named or into the
// default slot) makes stale: a later request wins over one still waiting.
func (w *waiting) drop(profile string, named bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s, l := range w.m {
		if l.named == named && (!named || l.profile == profile) {
			delete(w.m, s)
		}
	}
}

// list is a copy: session -> profile waiting.
func (w *waiting) list() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]string, len(w.m))
	for s, l := range w.m {
		out[s] = l.profile
	}
	return out
}

// Waiting lists the roles asked for while their session was signed out,
// by session: each is served once that session's login completes.
func (e *Engine) Waiting() map[string]string { return e.waiting.list() }

// serveWaiting loads session's waiting role, if any, now that the session
// is signed in; a failure is reported as a failed load.
func (e *Engine) serveWaiting(session string) {
	l, ok := e.waiting.take(session)
	if !ok {
		return
	}
	e.spawn(func() {
		if err := e.Load(l.profile, l.named); err != nil && e.ctx.Err() == nil {
			e.report(OpLoad, l.profile, err)
		}
	})
}

// Logout signs out of session: its token is forgotten, its slots emptied,
// a role waiting for it dropped.
func (e *Engine) Logout(session string) error {
	defer e.changes.notify()
	ctx, cancel := context.WithTimeout(e.ctx, actionTimeout)
	defer cancel()
	key, err := e.cfg.Sessions.Logout(ctx, session)
	if err != nil {
		return err
	}
	e.waiting.take(key)
	e.slots().SignOut(key)
	return nil
}

// Op names what failed, for Config.Failed.
type Op int

// The operations whose failure the UI is told of.
const (
	OpLogin Op = iota // name: the session
	OpLoad            // name: the profile
)

// report tells the UI of a failure of op on name; without one, it is
// logged.
func (e *Engine) report(op Op, name string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, creds.ErrLoginRequired) {
		return
	}
	if e.cfg.Failed != nil {
		e.cfg.Failed(op, name, err)
		return
	}
	e.log.Warn("failed", "op", op, "name", name, "err", err)
}
