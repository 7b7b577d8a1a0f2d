package creds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Manager's Config.
const (
	DefaultRefreshWindow = 20 * time.Minute
	DefaultRequestWait   = time.Second
	DefaultFetchTimeout  = time.Minute
)

// Config configures a Manager. Only Fetcher is required.
type Config struct {
	Fetcher Fetcher
	Clock   Clock // default SystemClock
	Logger  *slog.Logger
	// RefreshWindow: a slot is refreshed when the time left falls below
	// min(RefreshWindow, lifetime - 1 minute). Default 20 minutes, the
	// margin botocore's IMDS provider wants.
	RefreshWindow time.Duration
	// RequestWait bounds how long a request for expired credentials waits
	// for the refresh it triggered. Default 1 s (botocore gives up after 2 s).
	RequestWait time.Duration
	// FetchTimeout bounds one upstream fetch. Default 1 minute.
	FetchTimeout time.Duration
	// OnLoginRequired is called, in its own goroutine, when a slot enters
	// the login-required state.
	OnLoginRequired func(Profile)
	// Rand returns a float in [0,1) for backoff jitter; tests fix it.
	Rand func() float64
}

// Manager owns the slots and keeps their credentials fresh. Its methods are
// safe for concurrent use; readers on the credential path take no lock.
type Manager struct {
	cfg   Config
	clock Clock
	log   *slog.Logger

	mu    sync.Mutex
	slots map[string]*slot
	snap  atomic.Pointer[map[string]*Slot]

	subMu sync.Mutex
	subs  map[chan struct{}]struct{}

	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// slot is the Manager's mutable record of a slot, guarded by Manager.mu.
type slot struct {
	name    string
	profile Profile
	creds   Credentials
	state   SlotState
	err     error
	pinned  bool
	// gen changes whenever the slot gets a new profile, so that a fetch
	// started for the old one cannot land in it.
	gen      uint64
	inflight *call
	failures int
	retryAt  time.Time // zero: no retry pending
}

// call is one upstream fetch that any number of waiters can join.
type call struct {
	done  chan struct{}
	creds Credentials
	err   error
}

// NewManager returns a Manager whose scheduler runs until Close.
func NewManager(cfg Config) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RefreshWindow <= 0 {
		cfg.RefreshWindow = DefaultRefreshWindow
	}
	if cfg.RequestWait <= 0 {
		cfg.RequestWait = DefaultRequestWait
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Rand == nil {
		cfg.Rand = jitterSource()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg:    cfg,
		clock:  cfg.Clock,
		log:    cfg.Logger,
		slots:  make(map[string]*slot),
		subs:   make(map[chan struct{}]struct{}),
		kick:   make(chan struct{}, 1),
		ctx:    ctx,
		cancel: cancel,
	}
	m.snap.Store(&map[string]*Slot{})
	m.wg.Add(1)
	go m.schedule()
	return m
}

// Close stops the scheduler and cancels fetches in flight, and waits for them.
func (m *Manager) Close() error {
	m.once.Do(func() {
		m.cancel()
		m.wg.Wait()
	})
	return nil
}

// Get returns the credentials of slot name (DefaultSlot for the default
// slot). It answers from memory; only when the slot holds no valid
// credentials does it trigger a fetch and wait for it, at most RequestWait.
func (m *Manager) Get(ctx context.Context, name string) (Credentials, Slot, error) {
	s, ok := (*m.snap.Load())[name]
	if !ok {
		if name == DefaultSlot {
			return Credentials{}, Slot{}, ErrNothingLoaded
		}
		return Credentials{}, Slot{}, ErrNoSuchSlot
	}
	now := m.clock.Now()
	if s.Creds.ValidAt(now) {
		if !s.NextRefresh.IsZero() && !now.Before(s.NextRefresh) && s.State == StateOK {
			// Due but not started: the scheduler is late, as after a
			// suspend. Wake it; this request is served from memory.
			m.wake()
		}
		return s.Creds, *s, nil
	}
	if s.State == StateLoginRequired {
		return Credentials{}, *s, fmt.Errorf("%w: %s", ErrLoginRequired, s.Err)
	}
	if s.State == StateError && now.Before(s.NextRefresh) {
		// Upstream failed moments ago and a retry is scheduled: asking
		// again on every request would only hammer it.
		return Credentials{}, *s, fmt.Errorf("%w: %s (next try at %s)", ErrUnavailable, s.Err, s.NextRefresh.Format(time.TimeOnly))
	}
	c := m.refresh(name, false)
	if c == nil {
		return Credentials{}, *s, ErrNoSuchSlot
	}
	t := m.clock.NewTimer(m.cfg.RequestWait)
	defer t.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			if errors.Is(c.err, ErrLoginRequired) {
				return Credentials{}, *s, c.err
			}
			return Credentials{}, *s, fmt.Errorf("%w: %v", ErrUnavailable, c.err)
		}
		got, _ := m.Lookup(name)
		return c.creds, got, nil
	case <-t.C():
		return Credentials{}, *s, fmt.Errorf("%w: refresh still running after %v", ErrUnavailable, m.cfg.RequestWait)
	case <-ctx.Done():
		return Credentials{}, *s, ctx.Err()
	case <-m.ctx.Done():
		return Credentials{}, *s, ErrClosed
	}
}

// Lookup returns the snapshot of one slot.
func (m *Manager) Lookup(name string) (Slot, bool) {
	s, ok := (*m.snap.Load())[name]
	if !ok {
		return Slot{}, false
	}
	return *s, true
}

// Snapshot returns every slot.
func (m *Manager) Snapshot() State {
	var st State
	for _, s := range *m.snap.Load() {
		if s.Name == DefaultSlot {
			d := *s
			st.Default = &d
			continue
		}
		st.Named = append(st.Named, *s)
	}
	sort.Slice(st.Named, func(i, j int) bool { return st.Named[i].Name < st.Named[j].Name })
	return st
}

// Load fetches credentials for p and, only when that worked, puts p into
// slot name (DefaultSlot or a named slot), replacing what it held. A failed
// Load leaves the slot as it was.
func (m *Manager) Load(ctx context.Context, name string, p Profile) (Slot, error) {
	if p.Name == "" {
		return Slot{}, errors.New("load: empty profile name")
	}
	if err := m.ctx.Err(); err != nil {
		return Slot{}, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.FetchTimeout)
	defer cancel()
	cr, err := m.cfg.Fetcher.Fetch(ctx, p)
	if err == nil {
		err = checkCreds(cr, m.clock.Now())
	}
	if err != nil {
		return Slot{}, fmt.Errorf("load %s: %w", p.Name, err)
	}
	if cr.Issued.IsZero() {
		cr.Issued = m.clock.Now()
	}
	m.mu.Lock()
	s := m.slots[name]
	if s == nil {
		s = &slot{name: name}
		m.slots[name] = s
	}
	s.gen++
	s.profile, s.creds, s.state, s.err = p, cr, StateOK, nil
	s.inflight, s.failures, s.retryAt = nil, 0, time.Time{}
	m.publishLocked()
	m.mu.Unlock()
	m.wake()
	got, _ := m.Lookup(name)
	m.log.Info("slot loaded", "slot", slotLabel(name), "profile", p.Name, "role", cr.RoleARN,
		"key", cr.MaskedKeyID(), "expires", cr.Expiration.UTC().Format(time.RFC3339))
	return got, nil
}

// Restore puts p into slot name without credentials and fetches them in
// the background, retrying on failure. It is how pinned slots come back at
// start, when an upstream failure must not stop the process.
func (m *Manager) Restore(name string, p Profile, pinned bool) {
	m.mu.Lock()
	s := m.slots[name]
	if s == nil {
		s = &slot{name: name}
		m.slots[name] = s
	}
	s.gen++
	s.profile, s.creds, s.state, s.err, s.pinned = p, Credentials{}, StateRefreshing, nil, pinned
	s.inflight, s.failures, s.retryAt = nil, 0, time.Time{}
	m.startLocked(s)
	m.publishLocked()
	m.mu.Unlock()
}

// Unload empties slot name.
func (m *Manager) Unload(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.slots[name]; !ok {
		if name == DefaultSlot {
			return ErrNothingLoaded
		}
		return ErrNoSuchSlot
	}
	delete(m.slots, name)
	m.publishLocked()
	return nil
}

// SetPinned marks slot name as pinned (loaded again at the next start) or not.
func (m *Manager) SetPinned(name string, pinned bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.slots[name]
	if !ok {
		return ErrNoSuchSlot
	}
	s.pinned = pinned
	m.publishLocked()
	return nil
}

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

// refresh starts (or joins) the fetch for slot name. Unless force is set, a
// slot in login-required state is not fetched again.
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
	gen, p := s.gen, s.profile
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.FetchTimeout)
		cr, err := m.cfg.Fetcher.Fetch(ctx, p)
		cancel()
		m.finish(s, gen, c, cr, err)
	}()
	return c
}

// finish records the outcome of a fetch and releases its waiters.
func (m *Manager) finish(s *slot, gen uint64, c *call, cr Credentials, err error) {
	now := m.clock.Now()
	if err == nil {
		err = checkCreds(cr, now)
	}
	if err == nil && cr.Issued.IsZero() {
		cr.Issued = now
	}
	c.creds, c.err = cr, err
	var loginFor *Profile

	m.mu.Lock()
	current := m.slots[s.name] == s && s.gen == gen
	if current {
		s.inflight = nil
		switch {
		case err == nil:
			s.creds, s.state, s.err, s.failures = cr, StateOK, nil, 0
			m.log.Info("credentials refreshed", "slot", slotLabel(s.name), "profile", s.profile.Name,
				"key", cr.MaskedKeyID(), "expires", cr.Expiration.UTC().Format(time.RFC3339))
		case errors.Is(err, ErrLoginRequired):
			if s.state != StateLoginRequired {
				p := s.profile
				loginFor = &p
			}
			s.state, s.err = StateLoginRequired, err
			m.log.Warn("login required", "slot", slotLabel(s.name), "profile", s.profile.Name, "err", err)
		case m.ctx.Err() != nil:
			// Shutting down: not a failure of the slot.
		default:
			s.failures++
			s.state, s.err = StateError, err
			s.retryAt = now.Add(m.backoff(s.failures))
			m.log.Warn("refresh failed", "slot", slotLabel(s.name), "profile", s.profile.Name,
				"err", err, "attempt", s.failures, "retry_at", s.retryAt.Format(time.RFC3339))
		}
		m.publishLocked()
	}
	m.mu.Unlock()
	close(c.done)
	m.wake()
	if loginFor != nil && m.cfg.OnLoginRequired != nil {
		go m.cfg.OnLoginRequired(*loginFor)
	}
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
	case s.inflight != nil || s.state == StateLoginRequired:
		return time.Time{}
	case !s.retryAt.IsZero():
		return s.retryAt
	case s.creds.AccessKeyID == "":
		return time.Time{}
	}
	return RefreshAt(s.creds, m.cfg.RefreshWindow)
}

// RefreshAt is when credentials c should be refreshed given the refresh
// window: when the time left falls below min(window, lifetime - 1 minute).
// The minute keeps short-lived credentials from being fetched in a loop.
func RefreshAt(c Credentials, window time.Duration) time.Time {
	lead := window
	if life := c.Expiration.Sub(c.Issued) - time.Minute; life < lead {
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
		// readings is not lost.
		t := m.clock.NewTimer(now.Add(sleep).Sub(m.clock.Now()))
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

// Subscribe returns a channel that receives a value after state changes,
// and a function that ends the subscription. Events coalesce: a subscriber
// that is busy gets one event for many changes and re-reads Snapshot.
func (m *Manager) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	m.subMu.Lock()
	m.subs[ch] = struct{}{}
	m.subMu.Unlock()
	return ch, func() {
		m.subMu.Lock()
		delete(m.subs, ch)
		m.subMu.Unlock()
	}
}

// publishLocked swaps in a new snapshot and tells subscribers. m.mu must be
// held; sending never blocks.
func (m *Manager) publishLocked() {
	snap := make(map[string]*Slot, len(m.slots))
	for name, s := range m.slots {
		v := &Slot{
			Name:    name,
			Profile: s.profile,
			Creds:   s.creds,
			State:   s.state,
			Pinned:  s.pinned,
		}
		if s.err != nil {
			v.Err = s.err.Error()
		}
		v.NextRefresh = m.dueLocked(s)
		snap[name] = v
	}
	m.snap.Store(&snap)
	m.subMu.Lock()
	for ch := range m.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	m.subMu.Unlock()
}

func slotLabel(name string) string {
	if name == DefaultSlot {
		return "default"
	}
	return name
}
