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
)

// Audit records credential hand-outs as JSON lines. The request path only
// drops an event into a buffered channel; a goroutine coalesces repeated
// hand-outs of the same credentials to the same client into one line with a
// count, writes, and rotates the file.
type Audit struct {
	path     string
	maxBytes int64
	keep     int
	every    time.Duration
	log      *slog.Logger

	events  chan auditEvent
	dropped atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup

	f    *os.File
	size int64
}

type auditEvent struct {
	at   time.Time
	slot string
	role string
	key  string
	conn *connInfo
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Time    time.Time `json:"time"`
	Last    time.Time `json:"last,omitzero"`
	Count   int       `json:"count"`
	Slot    string    `json:"slot"`
	RoleARN string    `json:"role_arn"`
	KeyID   string    `json:"key_id"` // masked
	Client  string    `json:"client"`
	PID     int       `json:"pid,omitempty"`
	Exe     string    `json:"exe,omitempty"`
	// Dropped counts events lost because the writer fell behind.
	Dropped int64 `json:"dropped,omitempty"`
}

// AuditOptions tune an Audit; zero values take the defaults.
type AuditOptions struct {
	MaxBytes int64         // rotate past this size; default 10 MiB
	Keep     int           // rotated files kept; default 5
	Every    time.Duration // coalescing window; default 10 s
	Logger   *slog.Logger
}

// OpenAudit opens (creating with mode 0600) the audit log at path.
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	a := &Audit{
		path: path, maxBytes: o.MaxBytes, keep: o.Keep, every: o.Every, log: o.Logger,
		events: make(chan auditEvent, 4096),
		stop:   make(chan struct{}),
	}
	if err := a.open(); err != nil {
		return nil, err
	}
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
	return a.f.Close()
}

// record notes one hand-out; it never blocks.
func (a *Audit) record(r *http.Request, s creds.Slot, c creds.Credentials) {
	if a == nil {
		return
	}
	ev := auditEvent{at: time.Now(), slot: s.Name, role: c.RoleARN, key: c.AccessKeyID, conn: connFrom(r.Context())}
	select {
	case a.events <- ev:
	default:
		a.dropped.Add(1)
	}
}

type auditKey struct {
	conn *connInfo
	slot string
	key  string
}

func (a *Audit) run() {
	defer a.wg.Done()
	pending := map[auditKey]*AuditEntry{}
	var order []auditKey
	t := time.NewTicker(a.every)
	defer t.Stop()
	flush := func() {
		for _, k := range order {
			a.write(pending[k])
		}
		clear(pending)
		order = order[:0]
	}
	add := func(ev auditEvent) {
		k := auditKey{ev.conn, ev.slot, ev.key}
		if e, ok := pending[k]; ok {
			e.Count++
			e.Last = ev.at
			return
		}
		e := &AuditEntry{Time: ev.at, Count: 1, Slot: ev.slot, RoleARN: ev.role, KeyID: creds.MaskKeyID(ev.key)}
		if e.Slot == creds.DefaultSlot {
			e.Slot = "default"
		}
		if ev.conn != nil {
			e.Client = ev.conn.remote
			e.PID, e.Exe = ev.conn.process()
		}
		pending[k] = e
		order = append(order, k)
	}
	for {
		select {
		case ev := <-a.events:
			add(ev)
		case <-t.C:
			flush()
		case <-a.stop:
			for len(a.events) > 0 {
				add(<-a.events)
			}
			flush()
			return
		}
	}
}

func (a *Audit) write(e *AuditEntry) {
	if n := a.dropped.Swap(0); n > 0 {
		e.Dropped = n
	}
	if e.Count == 1 {
		e.Last = time.Time{}
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
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
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
