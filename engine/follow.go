package engine

import (
	"sync"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/sso"
)

// discoverEvery is how often an interactive engine lists roles again.
const discoverEvery = 10 * time.Minute

// follow starts the goroutines that keep the engine in step with the
// world until Close: Identity Center's session events, the keyring's
// answers, the default slot and recent roles into state.json, the AWS
// config file, the slots' changes into the subscribers, the restored
// slots' credentials into the keyring, the grants' use counts into
// grants.json, and with a person at the desktop, role discovery.
func (e *Engine) follow() {
	e.wg.Add(7)
	go e.keepGrants()
	go e.followSessions()
	go e.followKeyring()
	go e.keepState()
	go e.watchAWSConfig(sso.ConfigPath(), awsConfigPoll, fileStamp(sso.ConfigPath()))
	go e.followSlots()
	go e.keepCredentials()
	if e.cfg.Interactive {
		e.wg.Add(1)
		go e.discover()
	}
}

// followKeyring fetches the slots that wait for something as soon as a
// locked or silent keyring answers again (an SSO session's token could not
// be read), instead of at their next retry.
func (e *Engine) followKeyring() {
	defer e.wg.Done()
	for {
		select {
		case <-e.keyring.Answers():
			e.log.Info("the keyring answers again: fetching the slots that wait")
			if !e.secrets.Settled() {
				e.confirmToken()
			}
			e.manager.RefreshWaiting(func(creds.Profile) bool { return true })
		case <-e.ctx.Done():
			return
		}
	}
}

// followSessions reacts to Identity Center events until the engine stops:
// a login or renewal refreshes that session's slots that wait for it (not
// the healthy ones, not other sessions') and starts a discovery; every
// event is a change for the subscribers.
func (e *Engine) followSessions() {
	defer e.wg.Done()
	events, stop := e.ic.Subscribe()
	defer stop()
	for {
		select {
		case ev := <-events:
			e.sessionEvent(ev)
		case <-e.ctx.Done():
			return
		}
	}
}

// sessionEvent is what one Identity Center event changes.
func (e *Engine) sessionEvent(ev sso.Event) {
	if ev.Login {
		e.manager.RefreshSession(ev.Session)
		notify(e.logins)
		e.serveWaiting(ev.Session)
	}
	e.changes.notify()
}

// followSlots passes the manager's changes on to the subscribers.
func (e *Engine) followSlots() {
	defer e.wg.Done()
	events, stop := e.manager.Subscribe()
	defer stop()
	for {
		select {
		case <-events:
			e.changes.notify()
		case <-e.ctx.Done():
			return
		}
	}
}

// discover lists roles after each login and every ten minutes, off the
// menu's path.
func (e *Engine) discover() {
	defer e.wg.Done()
	t := time.NewTicker(discoverEvery)
	defer t.Stop()
	for {
		if _, _, err := e.ic.Roles(e.ctx); err != nil && e.ctx.Err() == nil {
			e.log.Warn("role discovery failed", "err", err)
		}
		e.changes.notify()
		select {
		case <-e.logins:
		case <-t.C:
		case <-e.ctx.Done():
			return
		}
	}
}

// hub tells its subscribers that what a UI shows may have changed: one
// buffered channel of size 1 each, sent to without blocking; the
// subscriber reads the engine again.
type hub struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

func (h *hub) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[chan struct{}]struct{}{}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, ch)
	}
}

func (h *hub) notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		notify(ch)
	}
}

// notify sends on a coalescing channel without blocking.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// spawn runs f in a goroutine that Close waits for; once Close has begun
// (a click or a picker request may still arrive), f does not run.
func (e *Engine) spawn(f func()) {
	e.lifeMu.Lock()
	defer e.lifeMu.Unlock()
	if e.closing {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// Stop asks the process to end (`rolecall stop`): Done is closed.
func (e *Engine) Stop() { e.stopOnce.Do(func() { close(e.stopped) }) }

// Done is closed when the process should end (`rolecall stop`).
func (e *Engine) Done() <-chan struct{} { return e.stopped }
