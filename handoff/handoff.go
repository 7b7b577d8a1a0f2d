// Package handoff takes every URL that carries a secret (the AWS console
// sign-in URL, the device login URL, the PKCE authorize URL) to the
// browser without putting it where other users can read it. The browser
// launcher's command line is public (/proc/*/cmdline, ps), so the
// launcher is given only the name of a page in a directory of the user's
// own (mode 0600); that page forwards to a one-time link on a loopback
// server of this package, which refuses other users' connections and
// answers the link once, with a redirect to the secret URL it keeps in
// memory. The launcher is started, never waited for: a browser that stays
// open does not hold the flow that opened it.
package handoff

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. Dir and WriteFile are required.
type Options struct {
	// Dir holds the forwarding pages (the user's state directory).
	Dir string
	// WriteFile writes a file readable by the current user only (0600,
	// or an owner-only ACL on Windows).
	WriteFile func(path string, data []byte) error
	// Accept refuses a connection by its addresses (the same-user peer
	// check); nil accepts every connection (systems where it cannot tell).
	Accept func(local, remote net.Addr) error
	// Launch starts the browser on a file:// URL and returns without
	// waiting for it (default: the desktop's launcher, see launch.go).
	Launch func(target string) error
	// TTL is how long a link stays valid (default 2 min).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the loopback end of the hand-offs; it listens from the first
// Open until Close.
type Server struct {
	opts Options

	mu     sync.Mutex
	ln     net.Listener
	srv    *http.Server
	done   chan struct{}
	links  map[string]link // one-time secret of the link -> what it opens
	closed bool
}

// link is one hand-off waiting for the browser.
type link struct {
	target string // the secret URL
	page   string // the forwarding page, removed once used or expired
	until  time.Time
}

// New returns a Server; it listens from its first Open.
func New(opts Options) *Server {
	if opts.TTL == 0 {
		opts.TTL = 2 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Launch == nil {
		opts.Launch = Launch
	}
	return &Server{opts: opts, links: map[string]link{}}
}

// ErrClosed: the Server was closed (rolecall is stopping).
var ErrClosed = errors.New("rolecall is stopping")

// Open shows secretURL in the user's browser through a one-time link and
// returns once the browser launcher is started.
func (s *Server) Open(secretURL string) error {
	if _, err := url.ParseRequestURI(secretURL); err != nil {
		return fmt.Errorf("open in the browser: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if err := s.listenLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.forgetExpiredLocked()
	id := randomToken()
	page := filepath.Join(s.opts.Dir, "open-"+randomToken()[:16]+".html") // its name tells nothing of id
	loopback := "http://" + s.ln.Addr().String() + "/go/" + id
	s.links[id] = link{target: secretURL, page: page, until: s.opts.Now().Add(s.opts.TTL)}
	s.mu.Unlock()
	body := `<!DOCTYPE html><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<meta http-equiv="refresh" content="0;url=` + html.EscapeString(loopback) + `"><title>rolecall</title>` +
		`<p>Opening… <a href="` + html.EscapeString(loopback) + `">continue</a></p>`
	if err := s.opts.WriteFile(page, []byte(body)); err != nil {
		s.forget(id)
		return fmt.Errorf("open in the browser: %w", err)
	}
	if err := s.opts.Launch(FileURL(page)); err != nil {
		s.forget(id)
		return fmt.Errorf("open in the browser: %w", err)
	}
	return nil
}

// Close stops the loopback server and removes the pages not used yet.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	srv, done := s.srv, s.done
	for id, l := range s.links {
		os.Remove(l.page)
		delete(s.links, id)
	}
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	return err
}

// listenLocked starts the loopback server unless it runs. s.mu is held.
func (s *Server) listenLocked() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("open in the browser: %w", err)
	}
	s.ln, s.done = ln, make(chan struct{})
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelDebug), ConnContext: connContext}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Logger.Warn("browser hand-off server stopped", "err", err)
		}
	}()
	return nil
}

// forget drops a link and its page.
func (s *Server) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.links[id]; ok {
		os.Remove(l.page)
		delete(s.links, id)
	}
}

// forgetExpiredLocked drops the links past their time. s.mu is held.
func (s *Server) forgetExpiredLocked() {
	now := s.opts.Now()
	for id, l := range s.links {
		if now.After(l.until) {
			os.Remove(l.page)
			delete(s.links, id)
		}
	}
}

type addrsKey struct{}

type addrs struct{ local, remote net.Addr }

func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, addrsKey{}, addrs{c.LocalAddr(), c.RemoteAddr()})
}

// serve answers GET /go/{id}: once, to the user's own processes, with a
// redirect to the secret URL. A refused connection does not use the link.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	id, ok := strings.CutPrefix(r.URL.Path, "/go/")
	if r.Method != http.MethodGet || !ok || id == "" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if a, ok := r.Context().Value(addrsKey{}).(addrs); ok && s.opts.Accept != nil {
		if err := s.opts.Accept(a.local, a.remote); err != nil {
			s.opts.Logger.Warn("browser hand-off refused a connection", "remote", a.remote.String(), "err", err)
			http.Error(w, "refused: "+err.Error(), http.StatusForbidden)
			return
		}
	}
	s.mu.Lock()
	l, found := s.links[id]
	delete(s.links, id)
	s.mu.Unlock()
	if found {
		os.Remove(l.page)
	}
	if !found || s.opts.Now().After(l.until) {
		http.Error(w, "this link was used already or has expired: ask rolecall to open it again", http.StatusGone)
		return
	}
	h.Set("Location", l.target)
	w.WriteHeader(http.StatusSeeOther)
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
