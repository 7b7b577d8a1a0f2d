// Package server is rolecall's HTTP surface: the credential listener that
// AWS SDKs call (the ECS container-credentials protocol, and optionally
// IMDS) and the control socket through which the CLI and the tray act on the
// running process.
//
// It knows creds through the narrow interfaces below and never builds AWS
// clients.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// Source is what the credential listener needs from the credential manager.
type Source interface {
	// GetSlot returns the slot with valid credentials, or why not; the
	// slot is shared and must not be changed.
	GetSlot(ctx context.Context, slot string) (*creds.Slot, error)
	Lookup(slot string) (creds.Slot, bool)
}

// Grants is what the listener needs from the owner of the grants.
type Grants interface {
	// Check returns the grant whose secret is secret if it may be used
	// now, with the counter of its hand-outs; else an error wrapping
	// creds.ErrGrantRevoked or creds.ErrGrantExpired (with that grant) or
	// creds.ErrNoSuchGrant.
	Check(secret string) (creds.Grant, creds.GrantUse, error)
}

// grantSource loads the slot a grant reads on its request, also when
// named slots are not loaded on demand (creds.Manager.GetGranted).
type grantSource interface {
	GetGranted(ctx context.Context, slot string) (*creds.Slot, error)
}

// Options configure a credential listener.
type Options struct {
	Source Source
	// Addr is host:port to listen on; "127.0.0.1:4144" when empty.
	Addr string
	// Token is the bearer token clients must send. Required.
	Token string
	// Certificate, when set, makes the listener serve HTTPS to clients
	// that reach it on a non-loopback address; a non-loopback Addr is
	// refused without it. Loopback stays plain HTTP for the host's own
	// clients whatever pair is set (SDKs call http://127.0.0.1, and a
	// pair made for a bridge address is not valid for 127.0.0.1): on a
	// loopback Addr the pair is not used at all.
	Certificate *tls.Certificate
	// IMDS serves the EC2 instance metadata routes; IMDSv1 also accepts
	// requests without a session token.
	IMDS, IMDSv1 bool
	// Region is reported by the IMDS identity document; empty: 404.
	Region string
	// Audit receives every hand-out; nil: none recorded.
	Audit *Audit
	// SameUserOnly refuses connections from sockets of other users (Linux).
	SameUserOnly bool
	// Grants, when set, lets a grant's secret read its one slot (as the
	// bearer token, or as the credential ID of /v2/credentials/{id}).
	Grants Grants
	Logger *slog.Logger
	// Now is the clock for IMDS tokens; time.Now when nil.
	Now func() time.Time
}

// DefaultAddr is where the credential listener listens unless told otherwise.
const DefaultAddr = "127.0.0.1:4144"

// Server is the credential listener.
type Server struct {
	opts          Options
	log           *slog.Logger
	granted       grantSource // the Source, if it loads a grant's slot itself
	token         atomic.Pointer[[]byte]
	cert          atomic.Pointer[tls.Certificate]
	hosts         map[string]bool
	lastHost      atomic.Pointer[string] // the last Host header allowed
	imds          *imdsTokens
	bodies        sync.Map // slot name -> *cachedBody
	lastBody      atomic.Pointer[cachedBody]
	refusals      refusalLog
	grantRefusals refusalLog // grant secrets refused: revoked, expired, another slot asked for
	conns         *conns
	http          *http.Server
	listener      atomic.Pointer[net.Listener] // set by Serve; the control socket reads it meanwhile
	done          chan struct{}
}

// New checks opts and returns a Server that is not yet listening.
func New(opts Options) (*Server, error) {
	if opts.Source == nil {
		return nil, errors.New("server: no credential source")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := ValidToken(opts.Token); err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", opts.Addr, err)
	}
	if !IsLoopback(host) && opts.Certificate == nil {
		return nil, fmt.Errorf("bind address %s is not loopback: serving credentials beyond this machine needs TLS (--tls-cert and --tls-key, or `rolecall tls save`)", host)
	}
	s := &Server{
		opts:  opts,
		log:   opts.Logger,
		hosts: map[string]bool{"127.0.0.1": true, "localhost": true, "::1": true},
		imds:  newIMDSTokens(opts.Now),
		done:  make(chan struct{}),
	}
	s.hosts[strings.ToLower(strings.Trim(host, "[]"))] = true
	s.granted, _ = opts.Source.(grantSource)
	s.SetToken(opts.Token)
	if opts.Certificate != nil && IsLoopback(host) {
		opts.Logger.Info("TLS pair not used: the listener binds loopback, which stays plain HTTP for this machine's clients", "bind", host)
		opts.Certificate, s.opts.Certificate = nil, nil
	}
	if opts.Certificate != nil {
		s.cert.Store(opts.Certificate)
	}
	// A write deadline is re-armed on every request; a loopback answer
	// fits the socket buffer, so only remote peers (TLS) need one. Refused
	// connections are closed after their one answer. The header and idle
	// timeouts are swept (conns.go), not re-armed per request.
	var writeTimeout time.Duration
	if opts.Certificate != nil {
		writeTimeout = 10 * time.Second
	}
	s.conns = newConns(sweepEvery, headerTimeout, idleTimeout)
	s.http = &http.Server{
		Handler:        s.Handler(),
		WriteTimeout:   writeTimeout,
		MaxHeaderBytes: 16 << 10,
		ConnContext:    s.connContext,
		ConnState:      func(c net.Conn, st http.ConnState) { s.conns.changed(c, st) },
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// IsLoopback reports whether host (a name or an IP literal) is a loopback
// address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Open starts listening and serving in the background.
func (s *Server) Open() error {
	l, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return err // "listen tcp ADDR: ..." already
	}
	return s.Serve(l)
}

// Serve serves on l in the background.
func (s *Server) Serve(l net.Listener) error {
	l = &tlsSwitch{Listener: l, s: s, config: &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}}
	s.listener.Store(&l)
	go s.conns.run()
	go func() {
		defer close(s.done)
		defer s.conns.close()
		if err := s.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("credential listener stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the address the listener is bound to, with the real port.
// Before Serve it is the configured address.
func (s *Server) Addr() net.Addr {
	if l := s.listener.Load(); l != nil {
		return (*l).Addr()
	}
	a, _ := net.ResolveTCPAddr("tcp", s.opts.Addr)
	if a == nil {
		a = &net.TCPAddr{}
	}
	return a
}

// URL is the FULL_URI base of the listener ("http://127.0.0.1:4144/"): the
// address it listens on, so that a client can connect to it ([::1] when
// bound to ::1, which the JavaScript SDK refuses: bind 127.0.0.1 for it).
func (s *Server) URL() string {
	scheme := "http"
	if s.TLS() {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(s.Addr().String())
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}

// TLS reports whether the listener serves HTTPS.
func (s *Server) TLS() bool { return s.cert.Load() != nil }

// StartTLS makes a listener that serves plain HTTP serve HTTPS with c from
// its next connection on: rolecall opens the listener before the keyring
// has said whether a TLS pair is saved there. Connections already open
// stay as they are. On a loopback bind it does nothing and returns false:
// loopback stays plain HTTP.
func (s *Server) StartTLS(c *tls.Certificate) bool {
	if s.loopbackBind() {
		return false
	}
	s.cert.Store(c)
	return true
}

// loopbackBind reports whether the listener binds a loopback address.
func (s *Server) loopbackBind() bool {
	host, _, _ := net.SplitHostPort(s.opts.Addr)
	return IsLoopback(host)
}

// tlsSwitch serves each accepted connection over TLS once the server has
// a certificate, plain before; a connection to a loopback address (a
// wildcard bind reached through 127.0.0.1) is always plain: the pair
// serves only where it is valid.
type tlsSwitch struct {
	net.Listener
	s      *Server
	config *tls.Config
}

func (l *tlsSwitch) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tc := l.s.conns.add(c)
	if l.s.cert.Load() == nil {
		return tc, nil
	}
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
		return tc, nil
	}
	return tls.Server(tc, l.config), nil
}

// SetToken replaces the bearer token; requests with the old one are refused
// from now on.
func (s *Server) SetToken(tok string) {
	b := []byte(tok)
	s.token.Store(&b)
}

// SetCertificate replaces the TLS certificate of a listener serving HTTPS.
func (s *Server) SetCertificate(c *tls.Certificate) error {
	if s.loopbackBind() {
		return errors.New("the listener binds loopback, which stays plain HTTP for this machine's clients: the pair is served once rolecall restarts with a non-loopback bind (bind in config.toml)")
	}
	if !s.TLS() {
		return errors.New("the listener serves plain HTTP; restart rolecall to serve HTTPS")
	}
	s.cert.Store(c)
	return nil
}

// Close stops accepting, lets requests in flight finish (bounded by ctx),
// and stops.
func (s *Server) Close(ctx context.Context) error {
	if s.listener.Load() == nil {
		return nil
	}
	err := s.http.Shutdown(ctx)
	<-s.done
	return err
}
