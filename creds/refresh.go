package creds

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Refresh fetches slot name now, whatever its state, and waits for the
// result (bounded by ctx).
func (m *Manager) Refresh(ctx context.Context, name string) (Slot, error) {
	c := m.refresh(name, true)
	if c == nil {
		if name == DefaultSlot {
			return Slot{}, ErrNothingLoaded
		}
		return Slot{}, ErrNoSuchSlot
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return Slot{}, ctx.Err()
	}
	s, _ := m.Lookup(name)
	return s, c.err
}

// RefreshAll starts a fetch for every slot that is not fetching already,
// for instance after a login made login-required slots usable again.
func (m *Manager) RefreshAll() {
	m.mu.Lock()
	for _, s := range m.slots {
		if s.inflight == nil {
			m.startLocked(s)
		}
	}
	m.publishLocked()
	m.mu.Unlock()
}

// RefreshWaiting starts a fetch for every slot whose profile matches and
// that waits for something to change: login-required, failed (also
// permanently), or not yet resolved. Healthy slots keep their schedule:
// unlike RefreshAll, nothing is fetched that does not need it. It is what
// a login or renewal of a session, or a change of the AWS config, calls.
func (m *Manager) RefreshWaiting(match func(Profile) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	started := false
	for _, s := range m.slots {
		waiting := s.state == StateLoginRequired || s.state == StateError || !s.resolved
		if s.inflight != nil || !waiting || !match(s.profile) {
			continue
		}
		m.startLocked(s)
		started = true
	}
	if started {
		m.publishLocked()
	}
}

// RefreshSession is RefreshWaiting for the slots of one SSO session, and
// for those not yet resolved (their session is not known yet).
func (m *Manager) RefreshSession(session string) {
	m.RefreshWaiting(func(p Profile) bool { return p.Session == session || p.Session == "" })
}

// refresh starts (or joins) the fetch for slot name. Unless force is set, a
// slot in login-required state is not fetched again, and a slot whose
// credentials are valid is not fetched at all.
func (m *Manager) refresh(name string, force bool) *call {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.slots[name]
	if !ok {
		return nil
	}
	if s.inflight != nil {
		return s.inflight
	}
	if !force && s.creds.ValidAt(m.clock.Now()) {
		// The caller read an older snapshot; a fetch finished since.
		return &call{done: closedChan, creds: s.creds}
	}
	if s.state == StateLoginRequired && !force {
		return &call{done: closedChan, err: fmt.Errorf("%w: %v", ErrLoginRequired, s.err)}
	}
	c := m.startLocked(s)
	m.publishLocked()
	return c
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// startLocked starts a fetch for s. m.mu must be held.
func (m *Manager) startLocked(s *slot) *call {
	c := &call{done: make(chan struct{})}
	s.inflight = c
	s.retryAt = time.Time{}
	if s.state != StateError && s.state != StateLoginRequired {
		s.state = StateRefreshing
	}
	gen, p, resolve, carry := s.gen, s.profile, !s.resolved, s.carry
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if !m.takeTurn() {
			m.finish(s, gen, c, nil, Credentials{}, ErrClosed, false)
			return
		}
		defer m.endTurn()
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.FetchTimeout)
		defer cancel()
		var resolved *Profile
		if resolve {
			rp, err := m.cfg.Names.ResolveSlot(ctx, p.Name)
			if err != nil {
				m.finish(s, gen, c, nil, Credentials{}, fmt.Errorf("resolve %s: %w", p.Name, err), false)
				return
			}
			p, resolved = rp, &rp
		}
		if carry {
			if cr, ok := m.carried(ctx, p); ok && m.finish(s, gen, c, resolved, cr, nil, true) {
				return
			}
		}
		cr, err := m.cfg.Fetcher.Fetch(ctx, p)
		m.finish(s, gen, c, resolved, cr, err, false)
	}()
	return c
}

// takeTurn waits until fewer than Concurrency background fetches run;
// false when the manager closes first.
func (m *Manager) takeTurn() bool {
	select {
	case m.turns <- struct{}{}:
		// A turn freed by a Close (its fetch cancelled) and the Close
		// itself are both ready then, and select picks at random.
		if m.ctx.Err() != nil {
			m.endTurn()
			return false
		}
		return true
	case <-m.ctx.Done():
		return false
	}
}

func (m *Manager) endTurn() { <-m.turns }

// finish records the outcome of a fetch (and of the resolve before it,
// when resolved is set) and releases its waiters. carried: cr are the
// credentials the last run held (carry.go), not fetched; finish refuses
// them, and returns false with nothing recorded, when their session was
// signed out since they were issued (also while they were read): the
// caller fetches instead.
func (m *Manager) finish(s *slot, gen uint64, c *call, resolved *Profile, cr Credentials, err error, carried bool) bool {
	now := m.clock.Now()
	if err == nil {
		err = checkCreds(cr, now)
	}
	if err == nil && cr.Issued.IsZero() {
		cr.Issued = now
	}
	var loginFor *Profile

	m.mu.Lock()
	p := s.profile
	if resolved != nil {
		p = *resolved
	}
	current := m.slots[s.name] == s && s.gen == gen
	if carried && current && m.signedOutSinceLocked(p.Session, cr.Issued) {
		m.mu.Unlock()
		return false
	}
	c.creds, c.err = cr, err
	if current {
		s.inflight = nil
		s.permanent = false
		if resolved != nil {
			s.profile, s.resolved = *resolved, true
		}
		if s.resolved {
			s.carry = false // asked once the name resolved
		}
		switch {
		case err == nil:
			s.creds, s.state, s.err, s.failures = cr, StateOK, nil, 0
			msg := "credentials refreshed"
			if carried {
				msg = "credentials carried over from the last run"
			}
			m.log.Info(msg, "slot", logName(s.name), "profile", s.profile.Name,
				"key", cr.MaskedKeyID(), "expires", cr.Expiration.UTC().Format(time.RFC3339))
		case errors.Is(err, ErrLoginRequired):
			if s.state != StateLoginRequired {
				p := s.profile
				if nl := (*NeedsLogin)(nil); p.Session == "" && errors.As(err, &nl) {
					p.Session = nl.Session // a name not resolved yet
				}
				loginFor = &p
			}
			s.state, s.err = StateLoginRequired, err
			m.log.Warn("login required", "slot", logName(s.name), "profile", s.profile.Name, "err", err)
		case m.ctx.Err() != nil:
			// Shutting down: not a failure of the slot.
		case errors.Is(err, ErrPermanent):
			s.state, s.err, s.permanent, s.failures, s.retryAt = StateError, err, true, 0, time.Time{}
			m.log.Warn("refresh failed, not retrying until the config or the session changes",
				"slot", logName(s.name), "profile", s.profile.Name, "err", err)
		default:
			s.state, s.err = StateError, err
			if p := (*Paused)(nil); errors.As(err, &p) && p.Until.After(now) {
				// Not asked: retried when the shared pause ends (a
				// second or so after, spread), not counted.
				s.retryAt = p.Until.Add(time.Duration(float64(time.Second) * (0.5 + m.cfg.Rand())))
			} else {
				s.failures++
				s.retryAt = now.Add(m.backoff(s.failures))
			}
			m.log.Warn("refresh failed", "slot", logName(s.name), "profile", s.profile.Name,
				"err", err, "attempt", s.failures, "retry_at", s.retryAt.Format(time.RFC3339))
		}
		m.publishLocked()
	}
	m.mu.Unlock()
	close(c.done)
	m.wake()
	if loginFor != nil {
		m.loginRequired(*loginFor)
	}
	return true
}

// loginRequired tells the application, in a goroutine Close waits for,
// that p's session needs a login; not once the manager is closing. It is
// called from the manager's own goroutines, so the WaitGroup is never
// empty when it grows.
func (m *Manager) loginRequired(p Profile) {
	if m.cfg.OnLoginRequired == nil || m.ctx.Err() != nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.cfg.OnLoginRequired(p)
	}()
}

// checkCreds refuses credentials no client could use.
func checkCreds(c Credentials, now time.Time) error {
	switch {
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return errors.New("upstream returned credentials without an access key")
	case !c.Expiration.After(now):
		return fmt.Errorf("upstream returned credentials that expired at %s", c.Expiration.UTC().Format(time.RFC3339))
	}
	return nil
}

// backoff is the delay before retry n (1-based): 5 s doubling up to 5
// minutes, with ±50 % jitter so that many slots do not retry in step.
func (m *Manager) backoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 5*time.Minute)
	return time.Duration(float64(d) * (0.5 + m.cfg.Rand()))
}

// dueLocked is when slot s should next be fetched; zero means not scheduled.
func (m *Manager) dueLocked(s *slot) time.Time {
	switch {
	case s.inflight != nil || s.state == StateLoginRequired || s.permanent:
		return time.Time{}
	case !s.retryAt.IsZero():
		return s.retryAt
	case s.creds.AccessKeyID == "":
		return time.Time{}
	}
	return RefreshAt(s.creds, m.cfg.RefreshWindow)
}

// MinAge is how long credentials are used before they are fetched again,
// however short-lived: RefreshAt never falls earlier than Issued+MinAge.
// With the 15-minute credentials of `aws login` sessions (and AssumeRole's
// shortest), a slot is fetched every 3 minutes and always serves at least
// 12 minutes: more than botocore's 10-minute mandatory refresh (below it
// every call of a client blocks on a refresh) and the 5-minute expiry
// windows of the Go and JavaScript SDKs. A Fetcher that shares upstream
// credentials between slots (a login session) hands out the ones it holds
// while they are younger than MinAge, so the slots sharing them stay in
// step and cause one upstream refresh.
const MinAge = 3 * time.Minute

// RefreshAt is when credentials c should be refreshed given the refresh
// window: when the time left falls below min(window, lifetime - MinAge).
// MinAge keeps short-lived credentials from being fetched in a loop.
func RefreshAt(c Credentials, window time.Duration) time.Time {
	lead := window
	if life := c.Expiration.Sub(c.Issued) - MinAge; life < lead {
		lead = max(life, 0)
	}
	return c.Expiration.Add(-lead)
}

// wake makes the scheduler look at the slots again, without blocking.
func (m *Manager) wake() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// maxSleep caps the scheduler's sleep. Go timers run on the monotonic
// clock, which stops while the machine sleeps; waking up at least this
// often and comparing against the wall clock bounds how late a refresh can
// be after a resume.
const maxSleep = 30 * time.Second

// armSlack is how far the clock may move while the scheduler sets its
// timer before the timer is set again.
const armSlack = time.Second

// schedule is the refresh loop: it starts the fetches that are due and
// sleeps until the next one.
func (m *Manager) schedule() {
	defer m.wg.Done()
	for {
		now := m.clock.Now()
		next := m.startDue(now)
		sleep := maxSleep
		if !next.IsZero() {
			sleep = min(max(next.Sub(now), 0), maxSleep)
		}
		// The timer is set for an instant, not a span from a second
		// reading of the clock, so that time passing between the two
		// readings is not lost. A clock that jumped while the timer was
		// being set (a resume from suspend; a test's fake clock advanced
		// between the reading and the timer) makes the timer late by the
		// jump: the loop looks again instead (with the system clock it
		// would be late by at most maxSleep; with a fake one, forever).
		armed := m.clock.Now()
		t := m.clock.NewTimer(now.Add(sleep).Sub(armed))
		if m.clock.Now().Sub(armed) > armSlack {
			t.Stop()
			continue
		}
		select {
		case <-m.ctx.Done():
			t.Stop()
			return
		case <-m.kick:
			t.Stop()
		case <-t.C():
			if late := m.clock.Now().Sub(now) - sleep; late > 10*time.Second {
				m.log.Info("wall clock jumped (resumed from sleep?), checking credentials", "late", late.Round(time.Second))
			}
		}
	}
}

// startDue starts every fetch due at now and returns the earliest future
// due time (zero if none).
func (m *Manager) startDue(now time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var next time.Time
	started := false
	for _, s := range m.slots {
		due := m.dueLocked(s)
		if due.IsZero() {
			continue
		}
		if !now.Before(due) {
			m.startLocked(s)
			started = true
			continue
		}
		if next.IsZero() || due.Before(next) {
			next = due
		}
	}
	if started {
		m.publishLocked()
	}
	return next
}
