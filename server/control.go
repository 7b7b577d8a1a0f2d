package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// Manager is what the control socket needs from the credential manager.
type Manager interface {
	Source
	Load(ctx context.Context, slot string, p creds.Profile) (creds.Slot, error)
	Unload(slot string) error
	Snapshot() creds.State
}

// LoadRequest asks for a profile, or an account and role, in a slot.
type LoadRequest struct {
	Profile   string `json:"profile,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	RoleName  string `json:"role_name,omitempty"`
	// Slot loads into the named slot of the profile instead of the default.
	Slot bool `json:"slot,omitempty"`
}

// Secrets keeps the listener's secrets (the OS keyring and the token file).
type Secrets interface {
	SaveToken(tok string) error
	SaveTLS(certPEM, keyPEM []byte) error
	LoadTLS() (certPEM, keyPEM []byte, err error)
	DeleteTLS() error
}

// ControlOptions configure the control socket.
type ControlOptions struct {
	Manager  Manager
	Listener *Server
	Secrets  Secrets
	Sessions Sessions
	// Resolve turns a load request into a profile; it fails for unknown
	// profiles so that a bad name never replaces a slot.
	Resolve   func(ctx context.Context, req LoadRequest) (creds.Profile, error)
	TokenFile string
	Version   string
	Logger    *slog.Logger
}

// Control is the control socket's server.
type Control struct {
	opts ControlOptions
	log  *slog.Logger
	http *http.Server
	l    net.Listener
	path string
	wg   sync.WaitGroup
	// rotateMu serialises token rotations.
	rotateMu sync.Mutex
}

// OpenControl listens on the control socket at path.
func OpenControl(path string, opts ControlOptions) (*Control, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := listenSocket(path)
	if err != nil {
		return nil, err
	}
	c := &Control{opts: opts, log: opts.Logger, l: l, path: path}
	c.http = &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 5 * time.Second}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("control socket stopped", "err", err)
		}
	}()
	return c, nil
}

// Close stops the control socket and removes it.
func (c *Control) Close(ctx context.Context) error {
	err := c.http.Shutdown(ctx)
	c.wg.Wait()
	os.Remove(c.path)
	return err
}

// Handler is the control API (JSON over HTTP on the Unix socket).
func (c *Control) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", c.status)
	mux.HandleFunc("GET /v1/slots", c.slots)
	mux.HandleFunc("POST /v1/load", c.load)
	mux.HandleFunc("POST /v1/unload", c.unload)
	mux.HandleFunc("GET /v1/env", c.env)
	mux.HandleFunc("GET /v1/token", c.token)
	mux.HandleFunc("POST /v1/token/rotate", c.rotate)
	mux.HandleFunc("GET /v1/tls", c.tlsGet)
	mux.HandleFunc("PUT /v1/tls", c.tlsSave)
	mux.HandleFunc("DELETE /v1/tls", c.tlsDelete)
	mux.HandleFunc("POST /v1/login", c.login)
	mux.HandleFunc("POST /v1/logout", c.logout)
	mux.HandleFunc("GET /v1/roles", c.roles)
	return mux
}

// Status describes the running process.
type Status struct {
	PID       int    `json:"pid"`
	Version   string `json:"version"`
	URL       string `json:"url"`
	TokenFile string `json:"token_file"`
	TLS       bool   `json:"tls"`
}

func (c *Control) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, Status{
		PID: os.Getpid(), Version: c.opts.Version, URL: c.opts.Listener.URL(),
		TokenFile: c.opts.TokenFile, TLS: c.opts.Listener.TLS(),
	})
}

// SlotInfo is one slot as `rolecall list --json` prints it.
type SlotInfo struct {
	Slot        string `json:"slot"` // "default" or the profile name
	Profile     string `json:"profile"`
	RoleARN     string `json:"role_arn,omitempty"`
	AccountID   string `json:"account_id,omitempty"`
	Expiration  string `json:"expiration,omitempty"`
	State       string `json:"state"`
	Error       string `json:"error,omitempty"`
	Pinned      bool   `json:"pinned"`
	NextRefresh string `json:"next_refresh,omitempty"`
}

// NewSlotInfo converts a slot snapshot.
func NewSlotInfo(s creds.Slot) SlotInfo {
	si := SlotInfo{
		Slot: s.Name, Profile: s.Profile.Name, RoleARN: s.Creds.RoleARN, AccountID: s.Creds.AccountID,
		State: string(s.State), Error: s.Err, Pinned: s.Pinned,
	}
	if s.IsDefault() {
		si.Slot = "default"
	}
	if !s.Creds.Expiration.IsZero() {
		si.Expiration = s.Creds.Expiration.UTC().Format(ExpirationFormat)
	}
	if !s.NextRefresh.IsZero() {
		si.NextRefresh = s.NextRefresh.UTC().Format(ExpirationFormat)
	}
	return si
}

func (c *Control) slots(w http.ResponseWriter, r *http.Request) {
	st := c.opts.Manager.Snapshot()
	out := []SlotInfo{}
	if st.Default != nil {
		out = append(out, NewSlotInfo(*st.Default))
	}
	for _, s := range st.Named {
		out = append(out, NewSlotInfo(s))
	}
	writeJSON(w, out)
}

func (c *Control) load(w http.ResponseWriter, r *http.Request) {
	var req LoadRequest
	if !readJSON(w, r, &req) {
		return
	}
	switch {
	case req.Profile == "" && (req.AccountID == "" || req.RoleName == ""):
		writeError(w, http.StatusBadRequest, "name a profile, or both an account id and a role name")
		return
	case req.Profile != "" && (req.AccountID != "" || req.RoleName != ""):
		writeError(w, http.StatusBadRequest, "name a profile or an account and role, not both")
		return
	}
	p, err := c.opts.Resolve(r.Context(), req)
	if err != nil {
		status := http.StatusNotFound
		if errors.Is(err, creds.ErrLoginRequired) {
			status = http.StatusForbidden
		}
		writeError(w, status, err.Error())
		return
	}
	slot := creds.DefaultSlot
	if req.Slot {
		slot = p.Name
	}
	s, err := c.opts.Manager.Load(r.Context(), slot, p)
	if err != nil {
		status, msg := http.StatusBadGateway, err.Error()
		if errors.Is(err, creds.ErrLoginRequired) {
			status, msg = http.StatusForbidden, err.Error()+": run `rolecall login`"
		}
		writeError(w, status, msg)
		return
	}
	writeJSON(w, NewSlotInfo(s))
}

// UnloadRequest empties the default slot (Profile empty) or a named slot.
type UnloadRequest struct {
	Profile string `json:"profile,omitempty"`
}

func (c *Control) unload(w http.ResponseWriter, r *http.Request) {
	var req UnloadRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := c.opts.Manager.Unload(req.Profile); err != nil {
		status, msg := SourceErrorMessage(req.Profile, err)
		writeError(w, status, msg)
		return
	}
	writeJSON(w, struct{}{})
}

// Env is what a terminal or IDE needs to use a slot.
type Env struct {
	FullURI   string `json:"full_uri"`
	TokenFile string `json:"token_file"`
}

func (c *Control) env(w http.ResponseWriter, r *http.Request) {
	u := c.opts.Listener.URL()
	if p := r.URL.Query().Get("profile"); p != "" {
		if _, ok := c.opts.Manager.Lookup(p); !ok {
			writeError(w, http.StatusNotFound, "no slot named "+strconv.Quote(p)+": run `rolecall load --profile "+p+" --slot` first")
			return
		}
		u += "slot/" + url.PathEscape(p)
	}
	writeJSON(w, Env{FullURI: u, TokenFile: c.opts.TokenFile})
}

// Token carries the bearer token.
type Token struct {
	Token string `json:"token"`
}

func (c *Control) token(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, Token{Token: string(*c.opts.Listener.token.Load())})
}

func (c *Control) rotate(w http.ResponseWriter, r *http.Request) {
	c.rotateMu.Lock()
	defer c.rotateMu.Unlock()
	tok, err := NewToken()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if err := c.opts.Secrets.SaveToken(tok); err != nil {
		writeError(w, http.StatusInternalServerError, "token not rotated: "+err.Error())
		return
	}
	c.opts.Listener.SetToken(tok)
	c.log.Info("bearer token rotated")
	writeJSON(w, Token{Token: tok})
}

// NewToken returns a fresh bearer token: 32 random bytes, base64url.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return NewTokenString(b), nil
}

// TLSPair carries a PEM certificate and key.
type TLSPair struct {
	Cert string `json:"cert"`
	Key  string `json:"key,omitempty"`
	// Active reports whether the listener serves this pair now.
	Active bool   `json:"active"`
	Note   string `json:"note,omitempty"`
}

func (c *Control) tlsGet(w http.ResponseWriter, r *http.Request) {
	cert, _, err := c.opts.Secrets.LoadTLS()
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, TLSPair{Cert: string(cert), Active: c.opts.Listener.TLS()})
}

func (c *Control) tlsSave(w http.ResponseWriter, r *http.Request) {
	var p TLSPair
	if !readJSON(w, r, &p) {
		return
	}
	pair, err := tls.X509KeyPair([]byte(p.Cert), []byte(p.Key))
	if err != nil {
		writeError(w, http.StatusBadRequest, "certificate and key do not make a usable pair: "+err.Error())
		return
	}
	if err := c.opts.Secrets.SaveTLS([]byte(p.Cert), []byte(p.Key)); err != nil {
		writeError(w, http.StatusInternalServerError, "TLS pair not saved: "+err.Error())
		return
	}
	out := TLSPair{Cert: p.Cert}
	if err := c.opts.Listener.SetCertificate(&pair); err != nil {
		out.Note = "saved; " + err.Error()
	} else {
		out.Active = true
		out.Note = "saved and now served"
	}
	writeJSON(w, out)
}

func (c *Control) tlsDelete(w http.ResponseWriter, r *http.Request) {
	if err := c.opts.Secrets.DeleteTLS(); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	note := "deleted"
	if c.opts.Listener.TLS() {
		note = "deleted; the listener keeps serving HTTPS until rolecall restarts"
	}
	writeJSON(w, TLSPair{Note: note, Active: c.opts.Listener.TLS()})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
