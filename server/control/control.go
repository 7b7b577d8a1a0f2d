// Package control is rolecall's control channel: the API through which the
// CLI subcommands and other local tools act on the running process. It has
// three parts: the wire types (wire.go), the server (Open, one handler file
// per concern) and the typed client (Client). The transport is a Unix
// socket in a private directory (socket.go).
//
// The package never imports the credential listener (package server): it
// reaches it through the narrow Listener interface that main wires.
package control

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// Manager is what the control channel needs from the credential manager.
type Manager interface {
	Lookup(name string) (creds.Slot, bool)
	Get(ctx context.Context, name string) (creds.Credentials, creds.Slot, error)
	Load(ctx context.Context, slot string, p creds.Profile) (creds.Slot, error)
	Unload(slot string) error
	// SignOut empties the slots of a session that was logged out (pinned
	// ones stay, login-required) and returns the names unloaded.
	SignOut(session string) []string
	Snapshot() creds.State
}

// Listener is what the control channel needs from the credential listener.
type Listener interface {
	URL() string
	TLS() bool
	SetCertificate(*tls.Certificate) error
}

// Secrets owns the listener's secrets: the bearer token (keyring and
// token file) and the TLS pair.
type Secrets interface {
	// Token is the bearer token in force.
	Token() string
	// RotateToken replaces the token everywhere it is kept, or nowhere;
	// its error says the token was not rotated, and why.
	RotateToken() (string, error)
	SaveTLS(certPEM, keyPEM []byte) error
	LoadTLS() (certPEM, keyPEM []byte, err error)
	DeleteTLS() error
	// Persistent reports whether what SaveTLS stores outlives the process
	// (an OS keyring holds it), rather than memory alone.
	Persistent() bool
}

// Sessions is what the control channel needs from the SSO side.
type Sessions interface {
	// Login signs in, calling prompt with the URL and code to approve.
	Login(ctx context.Context, req LoginRequest, prompt func(LoginPrompt)) (LoginResult, error)
	// Logout signs out and returns the session's key.
	Logout(ctx context.Context, session string) (string, error)
	Roles(ctx context.Context) (Roles, error)
	// Status reports every SSO session as the running process holds it
	// (doctor asks it rather than reading a keyring it may not reach).
	Status(ctx context.Context) ([]SessionInfo, error)
}

// Options configure the control server.
type Options struct {
	Manager  Manager
	Listener Listener
	Secrets  Secrets
	Sessions Sessions
	// Grants owns the grants; nil: none kept.
	Grants Grants
	// SSH holds the grants of `rolecall ssh` sessions; nil: none.
	SSH SSHLeases
	// Resolve turns a load request into a profile; it fails for unknown
	// profiles so that a bad name never replaces a slot.
	Resolve   func(ctx context.Context, req LoadRequest) (creds.Profile, error)
	TokenFile string
	// IMDS: the listener serves the EC2 metadata routes (imds = true).
	IMDS    bool
	Version string
	Logger  *slog.Logger
	// Stop asks the process to shut down (`rolecall stop`); it must not
	// wait for the shutdown, which closes this server.
	Stop func()
	// Save, when set, saves what a load changed for the next start (the
	// default slot's profile, in state.json) before the load is answered;
	// its error goes with the answer (SlotInfo.NotSaved).
	Save func(slot string) error
	// SigninCode hands the code a user pasted to the cross-device `aws
	// login` sign-in of a profile (nil: not offered).
	SigninCode func(profile, code string) error
	// Handout, when set, records credentials handed out over the control
	// channel (credential-process, console, exec) in the audit log, with
	// the client's pid and executable where the OS tells them.
	Handout func(slot string, c creds.Credentials, pid int, exe string)
	// Open shows a URL that carries a secret in the user's browser by the
	// running process's one path for such URLs (never a launcher's
	// command line); nil: there is no browser here.
	Open func(url string) error
}

// Server is the control channel's server.
type Server struct {
	opts Options
	log  *slog.Logger
	http *http.Server
	l    net.Listener
	path string
	wg   sync.WaitGroup
	// closing ends with Close: long requests (a streaming login) end with
	// it rather than hold the shutdown.
	closing context.Context
	close   context.CancelFunc
}

// Open listens on the control socket at path and serves the API.
func Open(path string, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := Listen(path)
	if err != nil {
		return nil, err
	}
	c := &Server{opts: opts, log: opts.Logger, l: l, path: path}
	c.closing, c.close = context.WithCancel(context.Background())
	c.http = &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 5 * time.Second, ConnContext: withConn}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("control socket stopped", "err", err)
		}
	}()
	return c, nil
}

// Close stops the server and removes the socket.
func (c *Server) Close(ctx context.Context) error {
	c.close()
	err := c.http.Shutdown(ctx)
	c.wg.Wait()
	os.Remove(c.path)
	return err
}

// Handler is the control API.
func (c *Server) Handler() http.Handler {
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
	mux.HandleFunc("POST /v1/login/code", c.signinCode)
	mux.HandleFunc("POST /v1/logout", c.logout)
	mux.HandleFunc("GET /v1/roles", c.roles)
	mux.HandleFunc("GET /v1/sessions", c.sessions)
	mux.HandleFunc("GET /v1/credentials", c.credentials)
	mux.HandleFunc("POST /v1/stop", c.stop)
	mux.HandleFunc("GET /v1/grants", c.grantList)
	mux.HandleFunc("POST /v1/grants", c.grantAdd)
	mux.HandleFunc("POST /v1/grants/revoke", c.grantRevoke)
	mux.HandleFunc("POST /v1/grants/check", c.grantCheck)
	mux.HandleFunc("POST /v1/open", c.open)
	mux.HandleFunc("POST /v1/ssh", c.ssh)
	return mux
}

// stop answers with the status, then asks the process to shut down.
func (c *Server) stop(w http.ResponseWriter, r *http.Request) {
	if c.opts.Stop == nil {
		writeError(w, http.StatusNotImplemented, "this rolecall cannot be stopped from the command line: use Quit in the tray")
		return
	}
	c.status(w, r)
	c.opts.Stop()
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

// errorBody is every error answer of the control API.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(errorBody{Code: strconv.Itoa(status), Message: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
