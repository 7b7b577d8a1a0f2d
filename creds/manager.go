package creds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
	DefaultConcurrency   = 16
)

// Config configures a Manager. Only Fetcher is required.
type Config struct {
	Fetcher Fetcher
	// Names completes the profiles of restored slots (Restore: pins, the
	// remembered default slot), known by name only, at fetch time: naming
	// a discovered role may need Identity Center, which may be unreachable
	// at start, so a failed resolve is retried like a failed fetch.
	// Without it they are fetched as given.
	Names  Resolver
	Clock  Clock // default SystemClock
	Logger *slog.Logger
	// RefreshWindow: a slot is refreshed when the time left falls below
	// min(RefreshWindow, lifetime - MinAge). Default 20 minutes, the
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
	// Resolver, when set, loads a named slot on its first request
	// (ondemand.go); nil: requests for unloaded slots get ErrNoSuchSlot.
	Resolver Resolver
	// Rand returns a float in [0,1) for backoff jitter; tests fix it.
	Rand func() float64
	// Unloaded are named slots the user unloaded before a restart (what
	// Unloaded returned then): they are not loaded on demand either.
	Unloaded []string
	// Carrier, when set, is asked for the credentials the last run held
	// before a restored slot is fetched (carry.go).
	Carrier Carrier
	// SignedOut are the sessions signed out in earlier runs and when
	// (what SignedOut returned then): credentials issued before are
	// never carried over, whether or not their entries were deleted.
	SignedOut map[string]time.Time
	// Concurrency bounds the background resolves and fetches running at
	// once (default 16): 5,000 pins restored at start wait their turn
	// instead of crowding the listener's goroutines off the CPU, and a
	// stop cancels the few running rather than waiting for all.
	Concurrency int
}

// Manager owns the slots and keeps their credentials fresh. Its methods are
// safe for concurrent use; readers on the credential path take no lock.
type Manager struct {
	cfg   Config
	clock Clock
	log   *slog.Logger

	mu     sync.Mutex
	slots  map[string]*slot
	demand map[string]*call // on-demand loads in flight, by slot name
	kept   map[string]kept  // credentials slots let go, by profile name (reuse.go)
	// requests are the slots with loads in flight and seq numbers the
	// requests, so that the last one asked wins.
	requests map[string]*request
	seq      uint64
	// unloaded are the named slots the user unloaded: not loaded on demand.
	unloaded map[string]bool
	// signedOut are the sessions signed out and when, in this run or
	// the runs before (Config.SignedOut): credentials issued before are
	// not carried over (carry.go).
	signedOut map[string]time.Time
	snap      atomic.Pointer[map[string]*Slot]

	subMu sync.Mutex
	subs  map[chan struct{}]struct{}

	kick   chan struct{}
	turns  chan struct{} // one per background fetch running (Concurrency)
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
	// resolved is false for a restored slot whose profile is known by
	// name only: the fetch resolves it first.
	resolved bool
	// permanent: the last failure wraps ErrPermanent; not scheduled.
	permanent bool
	// carry: a restored slot whose name has not resolved yet; its fetch
	// asks the Carrier first.
	carry bool
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
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg:       cfg,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		slots:     make(map[string]*slot),
		requests:  make(map[string]*request),
		unloaded:  make(map[string]bool),
		signedOut: make(map[string]time.Time),
		subs:      make(map[chan struct{}]struct{}),
		kick:      make(chan struct{}, 1),
		turns:     make(chan struct{}, cfg.Concurrency),
		ctx:       ctx,
		cancel:    cancel,
	}
	maps.Copy(m.signedOut, cfg.SignedOut)
	for _, name := range cfg.Unloaded {
		if name != DefaultSlot {
			m.unloaded[name] = true
		}
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
	s, err := m.GetSlot(ctx, name)
	switch {
	case s == nil:
		return Credentials{}, Slot{}, err
	case err != nil:
		return Credentials{}, *s, err
	}
	return s.Creds, *s, nil
}

// GetSlot is Get without a copy, for the credential listener's hot path:
// the slot as published in the snapshot (never changed after), whose Creds
// are valid when err is nil. On an error the slot, when there is one, says
// what it holds.
func (m *Manager) GetSlot(ctx context.Context, name string) (*Slot, error) {
	s, ok := (*m.snap.Load())[name]
	if !ok {
		if name == DefaultSlot {
			return nil, ErrNothingLoaded
		}
		if m.cfg.Resolver == nil {
			m.mu.Lock()
			unloaded := m.unloaded[name]
			m.mu.Unlock()
			if unloaded {
				return nil, ErrUnloaded
			}
			return nil, ErrNoSuchSlot
		}
		c, got, err := m.onDemand(ctx, name, m.cfg.Resolver)
		if err != nil {
			return nil, err
		}
		got.Creds = c
		return &got, nil
	}
	now := m.clock.Now()
	if s.Creds.ValidAt(now) {
		if !s.NextRefresh.IsZero() && !now.Before(s.NextRefresh) && s.State == StateOK {
			// Due but not started: the scheduler is late, as after a
			// suspend. Wake it; this request is served from memory.
			m.wake()
		}
		return s, nil
	}
	if s.State == StateLoginRequired {
		return s, fmt.Errorf("%w: %s", ErrLoginRequired, s.Err)
	}
	if s.Permanent {
		// Asking again cannot help: wait for the config or the session
		// to change (RefreshWaiting).
		return s, recorded{msg: s.Err, kind: ErrPermanent}
	}
	if s.State == StateError && now.Before(s.NextRefresh) {
		// Upstream failed moments ago and a retry is scheduled: asking
		// again on every request would only hammer it.
		return s, fmt.Errorf("%w: %s (next try at %s)", ErrUnavailable, s.Err, s.NextRefresh.Format(time.TimeOnly))
	}
	c := m.refresh(name, false)
	if c == nil {
		return s, ErrNoSuchSlot
	}
	t := m.clock.NewTimer(m.cfg.RequestWait)
	defer t.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			if errors.Is(c.err, ErrLoginRequired) || errors.Is(c.err, ErrPermanent) {
				return s, c.err
			}
			return s, fmt.Errorf("%w: %v", ErrUnavailable, c.err)
		}
		if !c.creds.ValidAt(m.clock.Now()) {
			// A fetch this request joined was valid when it landed, and
			// the clock jumped past it since (a resume from suspend).
			return s, fmt.Errorf("%w: the credentials fetched expired at %s", ErrUnavailable, c.creds.Expiration.UTC().Format(time.RFC3339))
		}
		got, _ := m.Lookup(name)
		got.Creds = c.creds
		return &got, nil
	case <-t.C():
		return s, fmt.Errorf("%w: refresh still running after %v", ErrUnavailable, m.cfg.RequestWait)
	case <-ctx.Done():
		return s, ctx.Err()
	case <-m.ctx.Done():
		return s, ErrClosed
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
// Load leaves the slot as it was. The last request for a slot wins, not
// the load that finishes last: a Load that a later Load or Unload of the
// same slot overtook changes nothing and returns ErrSuperseded. A Load is
// the user's: a named slot the user unloaded may be loaded on demand again.
func (m *Manager) Load(ctx context.Context, name string, p Profile) (Slot, error) {
	return m.load(ctx, name, p, true)
}

// load is Load; explicit is false for a load on demand, which does not
// undo the user's unload.
func (m *Manager) load(ctx context.Context, name string, p Profile, explicit bool) (Slot, error) {
	if p.Name == "" {
		return Slot{}, errors.New("load: empty profile name")
	}
	if err := m.ctx.Err(); err != nil {
		return Slot{}, ErrClosed
	}
	m.mu.Lock()
	ticket := m.requestLocked(name)
	if explicit && m.unloaded[name] {
		delete(m.unloaded, name)
		m.publishLocked()
	}
	cr, reused := m.reusableLocked(p, m.clock.Now())
	m.mu.Unlock()
	if !reused {
		// The caller's context, but the fetch ends with the manager too:
		// a stop never waits for a load asked over the control channel.
		ctx, cancel := context.WithTimeout(ctx, m.cfg.FetchTimeout)
		defer cancel()
		defer context.AfterFunc(m.ctx, cancel)()
		var err error
		cr, err = m.cfg.Fetcher.Fetch(ctx, p)
		if err == nil {
			err = checkCreds(cr, m.clock.Now())
		}
		if err != nil {
			m.mu.Lock()
			m.doneLocked(name, ticket)
			m.mu.Unlock()
			if m.ctx.Err() != nil {
				return Slot{}, ErrClosed
			}
			return Slot{}, fmt.Errorf("load %s: %w", p.Name, err)
		}
		if cr.Issued.IsZero() {
			cr.Issued = m.clock.Now()
		}
	}
	m.mu.Lock()
	if !m.doneLocked(name, ticket) {
		// Overtaken: what was fetched is kept for a switch back.
		m.keepCredsLocked(p, cr)
		m.mu.Unlock()
		m.log.Info("load overtaken by a later request for the slot", "slot", logName(name), "profile", p.Name)
		return Slot{}, fmt.Errorf("load %s into %s: %w", p.Name, SlotLabel(name), ErrSuperseded)
	}
	s := m.slots[name]
	if s == nil {
		s = &slot{name: name}
		m.slots[name] = s
	} else if s.profile != p {
		m.keepLocked(s)
	}
	s.gen++
	s.profile, s.creds, s.state, s.err = p, cr, StateOK, nil
	s.inflight, s.failures, s.retryAt = nil, 0, time.Time{}
	s.resolved, s.permanent, s.carry = true, false, false
	m.publishLocked()
	m.mu.Unlock()
	m.wake()
	got, _ := m.Lookup(name)
	m.log.Info("slot loaded", "slot", logName(name), "profile", p.Name, "role", cr.RoleARN,
		"key", cr.MaskedKeyID(), "expires", cr.Expiration.UTC().Format(time.RFC3339), "reused", reused)
	return got, nil
}

// Restore puts p into slot name without credentials and fetches them in
// the background, retrying on failure. It is how pinned slots and the
// remembered default slot come back at start, when an upstream failure
// must not stop the process: p may hold only a name, which the Resolver
// completes at fetch time (and again at each retry until it works), so a
// slot that cannot be named yet (offline, signed out) stays a slot.
func (m *Manager) Restore(name string, p Profile, pinned bool) {
	m.mu.Lock()
	m.supersedeLocked(name)
	delete(m.unloaded, name)
	s := m.slots[name]
	if s == nil {
		s = &slot{name: name}
		m.slots[name] = s
	}
	s.gen++
	s.profile, s.creds, s.state, s.err, s.pinned = p, Credentials{}, StateRefreshing, nil, pinned
	s.inflight, s.failures, s.retryAt = nil, 0, time.Time{}
	s.resolved, s.permanent = m.cfg.Names == nil, false
	s.carry = m.cfg.Carrier != nil
	m.startLocked(s)
	m.publishLocked()
	m.mu.Unlock()
}

// Unload empties slot name; loads of it still running change nothing
// then. An unload is final: a named slot the user unloaded is not loaded
// on demand (ErrUnloaded) until Load or Restore puts it back; Unloaded
// lists such names, for the application to keep across restarts.
func (m *Manager) Unload(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, pending := m.requests[name]
	m.supersedeLocked(name)
	s, ok := m.slots[name]
	switch {
	case !ok && !pending && name == DefaultSlot:
		return ErrNothingLoaded
	case !ok && !pending:
		return ErrNoSuchSlot
	case ok:
		m.keepLocked(s)
		delete(m.slots, name)
	}
	if name != DefaultSlot {
		m.unloaded[name] = true
	}
	m.publishLocked()
	return nil
}

// Unloaded returns, sorted, the named slots the user unloaded and has not
// loaded again: the names not loaded on demand.
func (m *Manager) Unloaded() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.unloaded))
	for n := range m.unloaded {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// request follows the loads of one slot in flight: the newest request for
// the slot (a load, an unload, a restore) has the highest number.
type request struct {
	latest  uint64
	pending int // loads still running
}

// requestLocked registers a load of slot name as its newest request and
// returns its ticket. m.mu is held.
func (m *Manager) requestLocked(name string) uint64 {
	m.seq++
	r := m.requests[name]
	if r == nil {
		r = &request{}
		m.requests[name] = r
	}
	r.latest = m.seq
	r.pending++
	return m.seq
}

// supersedeLocked makes a request that is not a load (an unload, a
// restore) newer than the loads of slot name still running. m.mu is held.
func (m *Manager) supersedeLocked(name string) {
	if r := m.requests[name]; r != nil {
		m.seq++
		r.latest = m.seq
	}
}

// doneLocked ends the load of slot name with ticket and reports whether
// it is still the newest request for the slot. m.mu is held.
func (m *Manager) doneLocked(name string, ticket uint64) bool {
	r := m.requests[name]
	r.pending--
	if r.pending == 0 {
		delete(m.requests, name)
	}
	return r.latest == ticket
}

// SignOut empties the slots of session after a logout: pinned named slots
// stay (without credentials, login-required) so that the next login brings
// them back; the others are unloaded. It returns the names unloaded.
func (m *Manager) SignOut(session string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgetKeptLocked(session)
	m.signedOut[session] = m.clock.Now()
	unloaded := []string{}
	for name, s := range m.slots {
		if s.profile.Session != session {
			continue
		}
		if !s.pinned {
			delete(m.slots, name)
			unloaded = append(unloaded, name)
			continue
		}
		s.gen++
		s.creds, s.state, s.err = Credentials{}, StateLoginRequired, fmt.Errorf("signed out of %s: %w", session, ErrLoginRequired)
		s.inflight, s.failures, s.retryAt, s.permanent = nil, 0, time.Time{}, false
	}
	sort.Strings(unloaded)
	m.publishLocked()
	return unloaded
}

// recorded is a slot's recorded failure as an error that still matches
// its sentinel.
type recorded struct {
	msg  string
	kind error
}

func (e recorded) Error() string { return e.msg }
func (e recorded) Unwrap() error { return e.kind }

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

// logName is a slot's name in log lines.
func logName(name string) string {
	if name == DefaultSlot {
		return "default"
	}
	return name
}
