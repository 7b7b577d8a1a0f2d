// Package picker is the tray's "Find a role…" page: a small search page
// that rolecall serves on the loopback interface and opens in the user's
// browser. It is guarded like the credential endpoint: connections from
// other users' processes are refused (Options.Accept, the listener's peer
// check), a session starts only through a one-time link, only under its own
// Host names, with no CORS at all, and state changes only from its own
// origin. The page never holds credentials: it lists role names and asks
// rolecall to act on them.
//
// The one-time link answers a small page that sets an HttpOnly,
// SameSite=Strict cookie that expires, and then moves to the picker
// itself from that page: a navigation of the picker's own origin, so the
// browser sends the Strict cookie. (A redirect would not do: the tray
// opens the link from a file:// page, and Chromium treats a redirect chain
// started there as cross-site and leaves the Strict cookie out of the
// request for the picker.) For the same reason the link can be reached
// through a redirect (the handoff package's one-time link): the cookie is
// set on a top-level navigation and sent on a same-origin one.
package picker

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Role is one entry of the page.
type Role struct {
	Name     string `json:"name"`  // what loads it
	Label    string `json:"label"` // what the page shows and searches
	Loaded   bool   `json:"loaded"`
	Favorite bool   `json:"favorite"`
	// Recent is the role's place among the roles used lately (1: the
	// last one; 0: not among them). Favourites, then recent roles, come
	// first on the page.
	Recent int `json:"recent,omitempty"`
	// Pending says the role was asked for while its session was signed
	// out: it is served once the login completes.
	Pending bool `json:"pending,omitempty"`
}

// Options configure a picker. Roles and the actions are required.
type Options struct {
	// Roles lists what can be picked; it must be cheap (no network).
	Roles func() []Role
	// Load loads a role into the default slot, LoadSlot into its own
	// named slot; Favorite stars or unstars it.
	Load, LoadSlot func(name string) error
	Favorite       func(name string, on bool) error
	Logger         *slog.Logger
	// Accept refuses a connection by its addresses (the same-user check);
	// nil accepts every connection.
	Accept func(local, remote net.Addr) error
	// LinkTTL is how long a one-time link stays valid (default 2 min);
	// SessionTTL how long the page's cookie does (default 1 h).
	LinkTTL, SessionTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

const cookieName = "rolecall_picker"

// Server serves the page on 127.0.0.1 until Close.
type Server struct {
	opts  Options
	ln    net.Listener
	srv   *http.Server
	hosts []string // the Host values accepted
	done  chan struct{}

	links    links
	mu       sync.Mutex
	sessions map[string]time.Time // cookie value -> end of validity
}

// Start listens on a free loopback port.
func Start(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LinkTTL == 0 {
		opts.LinkTTL = 2 * time.Minute
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("role picker: %w", err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	s := &Server{opts: opts, ln: ln, hosts: []string{"127.0.0.1:" + port, "localhost:" + port},
		sessions: map[string]time.Time{}, done: make(chan struct{})}
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
		ConnContext: s.connContext}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Warn("role picker stopped", "err", err)
		}
	}()
	return s, nil
}

// Link returns a fresh one-time link to the page. Open it through a
// private forwarding page (the handoff package), not on a command line.
func (s *Server) Link() string {
	return "http://" + s.hosts[0] + "/open?t=" + s.links.add(s.opts.Now().Add(s.opts.LinkTTL))
}

// Close stops the server.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

//go:embed page
var page embed.FS

// handler checks every request before routing it.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /open", s.open)
	mux.HandleFunc("GET /{$}", s.file("page/index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /app.js", s.file("page/app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /app.css", s.file("page/app.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /api/roles", s.roles)
	mux.HandleFunc("GET /api/texts", s.pageTexts)
	mux.HandleFunc("POST /api/{action}", s.act)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
			"base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		if why := s.refused(r); why != "" {
			http.Error(w, why, http.StatusForbidden)
			return
		}
		if !s.hostAllowed(r.Host) {
			http.Error(w, "unknown host", http.StatusMisdirectedRequest)
			return
		}
		if r.URL.Path != "/open" && !s.hasSession(r) {
			http.Error(w, Say(NoSession), http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && !s.ownOrigin(r) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// connState is the Accept verdict of one connection, decided on its first
// request in the connection's own goroutine.
type connState struct {
	local, remote net.Addr
	once          sync.Once
	refused       string
}

type connKey struct{}

func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{local: c.LocalAddr(), remote: c.RemoteAddr()})
}

// refused is why the request's connection is refused, or "".
func (s *Server) refused(r *http.Request) string {
	cs, _ := r.Context().Value(connKey{}).(*connState)
	if cs == nil || s.opts.Accept == nil {
		return ""
	}
	cs.once.Do(func() {
		if err := s.opts.Accept(cs.local, cs.remote); err != nil {
			cs.refused = "role picker: " + err.Error()
			s.opts.Logger.Warn("role picker connection refused", "remote", cs.remote.String(), "err", err)
		}
	})
	return cs.refused
}

func (s *Server) hostAllowed(host string) bool {
	for _, h := range s.hosts {
		if host == h {
			return true
		}
	}
	return false
}

// ownOrigin: a state change must come from the page itself. Browsers send
// Origin on every POST; a request without one is not from the page.
func (s *Server) ownOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	return r.Header.Get("Origin") == "http://"+r.Host && r.Header.Get("Content-Type") == "application/json"
}

func (s *Server) hasSession(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ok := false
	for v, until := range s.sessions {
		if now.After(until) {
			delete(s.sessions, v)
			continue
		}
		if subtle.ConstantTimeCompare([]byte(v), []byte(c.Value)) == 1 {
			ok = true
		}
	}
	return ok
}

// open trades a one-time link for a session cookie, then moves to the
// picker from a page of its own origin (see the package comment).
func (s *Server) open(w http.ResponseWriter, r *http.Request) {
	if !s.links.take(r.URL.Query().Get("t"), s.opts.Now()) {
		http.Error(w, Say(LinkUsed), http.StatusForbidden)
		return
	}
	session := randomToken()
	s.mu.Lock()
	s.sessions[session] = s.opts.Now().Add(s.opts.SessionTTL)
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(s.opts.SessionTTL / time.Second)})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, `<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/">`+
		`<title>rolecall — find a role</title><p>`+html.EscapeString(Say(Opening))+` <a href="/">continue</a></p>`)
}

func (s *Server) file(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := page.ReadFile(name)
		if err != nil {
			http.Error(w, "missing page", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Write(b)
	}
}

// roles answers the list: favourites first, then the roles used lately
// (the last one first), then the rest in the order given.
func (s *Server) roles(w http.ResponseWriter, r *http.Request) {
	roles := slices.Clone(s.opts.Roles())
	if roles == nil {
		roles = []Role{}
	}
	rank := func(r Role) int {
		switch {
		case r.Favorite:
			return 0
		case r.Recent > 0:
			return r.Recent
		}
		return math.MaxInt
	}
	slices.SortStableFunc(roles, func(a, b Role) int { return cmp.Compare(rank(a), rank(b)) })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(roles)
}

// pageTexts answers the texts the page's script shows, with {0}, {1}…
// for their arguments.
func (s *Server) pageTexts(w http.ResponseWriter, r *http.Request) {
	out := map[Text]string{}
	for t, v := range texts {
		n := 0
		out[t] = verb.ReplaceAllStringFunc(v, func(string) string { n++; return "{" + strconv.Itoa(n-1) + "}" })
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

var verb = regexp.MustCompile(`%[a-z]`)

// act runs a click of the page: {"name": ..., "on": ...}.
func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
		On   bool   `json:"on"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Name == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	// Only the roles the page lists: a name no role has is neither
	// loaded nor starred.
	if !slices.ContainsFunc(s.opts.Roles(), func(r Role) bool { return r.Name == req.Name }) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"error": Say(UnknownRole, strconv.Quote(req.Name))})
		return
	}
	var err error
	switch r.PathValue("action") {
	case "load":
		err = s.opts.Load(req.Name)
	case "slot":
		err = s.opts.LoadSlot(req.Name)
	case "favorite":
		err = s.opts.Favorite(req.Name, req.On)
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		s.opts.Logger.Warn("role picker action failed", "action", r.PathValue("action"), "role", req.Name, "err", err)
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	json.NewEncoder(w).Encode(map[string]bool{"ok": true})
}
