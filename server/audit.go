package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/private"
)

// Audit records credential hand-outs as JSON lines. Repeated hand-outs of
// the same credentials to the same client connection only bump a counter
// on the request path; a goroutine writes a client's first hand-out within
// Prompt (once its process is known), then one line per client, slot and
// key per window with the count, and rotates the file. The request path
// never waits on the disk.
type Audit struct {
	path     string
	maxBytes int64
	keep     int
	every    time.Duration
	prompt   time.Duration
	log      *slog.Logger

	handouts chan *handout
	dropped  atomic.Int64
	owners   *owners
	stop     chan struct{}
	wg       sync.WaitGroup

	f    *os.File
	size int64
}

// handout is one client connection being handed one set of credentials,
// any number of times.
type handout struct {
	first time.Time
	slot  string
	role  string
	key   string
	grant string // the grant whose secret was shown; "": the user's token
	conn  *connInfo
	count atomic.Int64 // hand-outs not yet written

	// Without conn (a hand-out over the control channel): the client.
	client string
	pid    int
	exe    string

	// Owned by the writer goroutine.
	written bool
	since   time.Time // when the last line was written
	idle    int       // windows in a row with nothing handed out
}

// AuditEntry is one line of the audit log: Count hand-outs of one set of
// credentials to one client between Time and Until.
type AuditEntry struct {
	Time    time.Time `json:"time"`
	Until   time.Time `json:"until,omitzero"`
	Count   int64     `json:"count"`
	Slot    string    `json:"slot"`
	RoleARN string    `json:"role_arn"`
	KeyID   string    `json:"key_id"` // masked
	// Grant names the grant the credentials were handed out to; empty
	// for the user's own token.
	Grant  string `json:"grant,omitempty"`
	Client string `json:"client"`
	PID    int    `json:"pid,omitempty"`
	Exe    string `json:"exe,omitempty"`
	// Dropped counts hand-outs that could not be recorded because the
	// writer fell behind.
	Dropped int64 `json:"dropped,omitempty"`
}

// AuditOptions tune an Audit; zero values take the defaults.
type AuditOptions struct {
	MaxBytes int64         // rotate past this size; default 10 MiB
	Keep     int           // rotated files kept; default 5
	Every    time.Duration // coalescing window of a connection's repeated hand-outs; default 10 s
	// Prompt is how soon a connection's first hand-out reaches the file
	// (once its client process is known, or ownerBound after it); default
	// 1 s, at most Every. Nothing wakes while nothing is handed out.
	Prompt time.Duration
	Logger *slog.Logger
}

// ownerBound is how long a first hand-out's line waits for the search for
// its client process before it is written without it.
const ownerBound = 5 * time.Second

// OpenAudit opens the audit log at path, readable by the current user only
// (mode 0600, or a user-only ACL on Windows).
func OpenAudit(path string, o AuditOptions) (*Audit, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 10 << 20
	}
	if o.Keep <= 0 {
		o.Keep = 5
	}
	if o.Every <= 0 {
		o.Every = 10 * time.Second
	}
	if o.Prompt <= 0 {
		o.Prompt = time.Second
	}
	o.Prompt = min(o.Prompt, o.Every)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	a := &Audit{
		path: path, maxBytes: o.MaxBytes, keep: o.Keep, every: o.Every, prompt: o.Prompt, log: o.Logger,
		handouts: make(chan *handout, 4096),
		stop:     make(chan struct{}),
	}
	if err := a.open(); err != nil {
		return nil, err
	}
	a.owners = newOwners(socketOwners)
	a.wg.Add(1)
	go a.run()
	return a, nil
}

// Path is the file the audit log is written to.
func (a *Audit) Path() string { return a.path }

// Close writes what is pending and closes the file.
func (a *Audit) Close() error {
	if a == nil {
		return nil
	}
	close(a.stop)
	a.wg.Wait()
	a.owners.close()
	return a.f.Close()
}

// resolveOwner starts finding the process behind a new connection, so
// that its hand-outs are attributed even when the client exits at once.
func (a *Audit) resolveOwner(ci *connInfo) {
	if a != nil {
		a.owners.resolve(ci)
	}
}

// record notes one hand-out; it never blocks and, for the same credentials
// on the same connection as the last time, only adds one to a counter.
func (a *Audit) record(r *http.Request, s *creds.Slot, grant string) {
	if a == nil {
		return
	}
	c := &s.Creds
	ci := connFrom(r.Context())
	if ci != nil {
		if h := ci.handout.Load(); h != nil && h.slot == s.Name && h.key == c.AccessKeyID && h.grant == grant {
			h.count.Add(1)
			return
		}
	}
	h := &handout{first: time.Now(), slot: s.Name, role: c.RoleARN, key: c.AccessKeyID, grant: grant, conn: ci}
	h.count.Store(1)
	if ci != nil {
		ci.handout.Store(h)
		// The answer is still in net/http's buffer: the client is alive
		// until the newest processes have been searched for it.
		ci.awaitProbe()
	}
	select {
	case a.handouts <- h:
	default:
		a.dropped.Add(1)
		if ci != nil {
			ci.handout.CompareAndSwap(h, nil)
		}
	}
}

// ControlClient is the Client of the audit lines of hand-outs over the
// control channel.
const ControlClient = "control socket"

// RecordControl notes credentials handed out over the control channel
// (credential-process, console, exec), like the listener's hand-outs: one
// line each, client ControlClient, with the pid and executable of the
// process that asked where the OS tells them. It never blocks.
func (a *Audit) RecordControl(slot string, c creds.Credentials, pid int, exe string) {
	if a == nil {
		return
	}
	h := &handout{first: time.Now(), slot: slot, role: c.RoleARN, key: c.AccessKeyID, client: ControlClient, pid: pid, exe: exe}
	h.count.Store(1)
	select {
	case a.handouts <- h:
	default:
		a.dropped.Add(1)
	}
}

// run writes the lines. While anything is pending it wakes every Prompt:
// a connection's first hand-out is written as soon as its client process
// is known (or ownerBound has passed), its later ones once per Every, and
// a connection that moved on or stayed quiet for two windows is
// forgotten. With nothing pending it sleeps until the next hand-out.
func (a *Audit) run() {
	defer a.wg.Done()
	var active []*handout
	timer := time.NewTimer(a.prompt)
	defer timer.Stop()
	var tick <-chan time.Time // nil: nothing pending, no wake-ups
	for {
		select {
		case h := <-a.handouts:
			active = append(active, h)
			if tick == nil {
				timer.Reset(a.prompt)
				tick = timer.C
			}
		case <-tick:
			active = a.flush(active, time.Now(), false)
			tick = nil
			if len(active) > 0 {
				timer.Reset(a.prompt)
				tick = timer.C
			}
		case <-a.stop:
			for len(a.handouts) > 0 {
				active = append(active, <-a.handouts)
			}
			a.flush(active, time.Now(), true)
			return
		}
	}
}

// flush writes what is due of active at now and returns the hand-outs
// still followed.
func (a *Audit) flush(active []*handout, now time.Time, final bool) []*handout {
	keep := active[:0]
	for _, h := range active {
		current := h.conn != nil && h.conn.handout.Load() == h
		switch {
		case final || !current:
			// Closing, or superseded by other credentials on the
			// connection: write what is left and forget it.
		case !h.written:
			if h.conn != nil && h.conn.resolving() && now.Sub(h.first) < ownerBound {
				keep = append(keep, h) // its client process is still looked for
				continue
			}
			a.flushOne(h, now)
			keep = append(keep, h)
			continue
		case now.Sub(h.since) < a.every:
			keep = append(keep, h)
			continue
		default:
			if a.flushOne(h, now) || h.idle < 2 {
				keep = append(keep, h)
				continue
			}
			// Quiet for two windows: forget it; a later hand-out on the
			// connection starts a new one.
		}
		if h.conn != nil {
			h.conn.handout.CompareAndSwap(h, nil)
		}
		a.flushOne(h, now)
	}
	clear(active[len(keep):])
	return keep
}

// flushOne writes the hand-outs of h counted since its last line, and
// reports whether there were any.
func (a *Audit) flushOne(h *handout, now time.Time) bool {
	n := h.count.Swap(0)
	if n == 0 {
		h.idle++
		h.since = now
		return false
	}
	h.idle = 0
	e := &AuditEntry{Count: n, Slot: h.slot, RoleARN: h.role, KeyID: creds.MaskKeyID(h.key), Grant: h.grant}
	if e.Slot == creds.DefaultSlot {
		e.Slot = "default"
	}
	e.Time = h.first
	if h.written {
		e.Time = h.since
	}
	if n > 1 {
		e.Until = now
	}
	h.written, h.since = true, now
	if h.conn != nil {
		e.Client = h.conn.remote.String()
		e.PID, e.Exe = h.conn.process()
	} else {
		e.Client, e.PID, e.Exe = h.client, h.pid, h.exe
	}
	a.write(e)
	return true
}

func (a *Audit) write(e *AuditEntry) {
	if n := a.dropped.Swap(0); n > 0 {
		e.Dropped = n
	}
	b, _ := json.Marshal(e)
	b = append(b, '\n')
	if a.size+int64(len(b)) > a.maxBytes && a.size > 0 {
		if err := a.rotate(); err != nil {
			a.log.Error("audit log rotation failed", "err", err)
		}
	}
	n, err := a.f.Write(b)
	a.size += int64(n)
	if err != nil {
		a.log.Error("audit log write failed", "err", err)
	}
}

func (a *Audit) open() error {
	f, err := private.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	a.f, a.size = f, st.Size()
	return nil
}

// rotate renames audit.log to audit.log.1, .1 to .2, and so on, dropping
// the oldest.
func (a *Audit) rotate() error {
	a.f.Close()
	os.Remove(fmt.Sprintf("%s.%d", a.path, a.keep))
	for i := a.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", a.path, i), fmt.Sprintf("%s.%d", a.path, i+1))
	}
	if err := os.Rename(a.path, a.path+".1"); err != nil {
		a.open()
		return err
	}
	return a.open()
}

// ReadAudit reads audit entries from r (for tests and tools).
func ReadAudit(path string) ([]AuditEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AuditEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
