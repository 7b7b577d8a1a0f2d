package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/rolecall/rolecall/creds"
)

// ValidToken checks that tok can be used as a bearer token: every SDK sends
// it verbatim in a header, so no white space or control characters (a
// trailing newline from a token file is the usual culprit).
func ValidToken(tok string) error {
	if len(tok) < 16 {
		return errors.New("bearer token is missing or shorter than 16 characters")
	}
	for _, r := range tok {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return fmt.Errorf("bearer token contains %q: only printable ASCII without spaces is allowed", r)
		}
	}
	return nil
}

// NewToken returns a fresh bearer token: 32 random bytes, base64url.
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return NewTokenString(b), nil
}

// NewTokenString encodes 32 random bytes as an unpadded base64url token.
func NewTokenString(random [32]byte) string {
	return base64.RawURLEncoding.EncodeToString(random[:])
}

// refusal is why a request is refused before it reaches a route.
type refusal struct {
	status int
	msg    string
	// peer: the connection is refused, not just the request; it gets
	// this one answer, with a deadline, and is closed.
	peer bool
}

// guard applies the checks every request passes: peer user, Host header,
// browser headers. The bearer token is checked per route (healthz and IMDS
// have none).
func (s *Server) guard(r *http.Request) *refusal {
	if ci := connFrom(r.Context()); ci != nil {
		if msg := s.checkPeer(ci); msg != "" {
			return &refusal{status: http.StatusForbidden, msg: msg, peer: true}
		}
		if ci.container {
			return s.guardContainer(r)
		}
	}
	if !s.allowedHost(r.Host) {
		return &refusal{status: http.StatusForbidden, msg: fmt.Sprintf("Host %q is not allowed: use 127.0.0.1 (requests naming other hosts are refused to stop DNS rebinding)", r.Host)}
	}
	if h := browserHeader(r.Header); h != "" {
		return &refusal{status: http.StatusForbidden, msg: "request carries the browser header " + h + ": web pages may not read credentials"}
	}
	return nil
}

func (s *Server) allowedHost(hostport string) bool {
	// A client sends the same Host on every request: the last one allowed
	// is one string comparison away.
	if last := s.lastHost.Load(); last != nil && *last == hostport {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if !s.hosts[host] {
		return false
	}
	last := hostport // on the heap only here, not on every call
	s.lastHost.Store(&last)
	return true
}

// equalConstantTime compares in time that depends only on the lengths, as
// subtle.ConstantTimeCompare does, without copying got into a new []byte on
// every request.
func equalConstantTime(got string, want []byte) bool {
	if len(got) != len(want) {
		return false
	}
	var v byte
	for i := range len(want) {
		v |= got[i] ^ want[i]
	}
	return subtle.ConstantTimeByteEq(v, 0) == 1
}

// browserHeaders are the headers that only browsers send: page script
// cannot set a Sec- header, and every browser that sends Fetch Metadata
// sends Site, Mode and Dest on every request, so looking these names up is
// the whole Sec-Fetch-* check without a loop over every header.
var browserHeaders = []string{"Origin", "Referer", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User"}

func browserHeader(h http.Header) string {
	for _, k := range browserHeaders {
		if _, ok := h[k]; ok {
			return k
		}
	}
	return ""
}

// authorized checks the Authorization header: the raw token or
// "Bearer <token>", compared in constant time. It returns what was sent
// (for a grant's check on a 403).
func (s *Server) authorized(r *http.Request) (string, *refusal) {
	got := r.Header.Get("Authorization")
	if got == "" {
		return "", missingToken
	}
	if len(got) > 7 && strings.EqualFold(got[:7], "bearer ") {
		got = got[7:]
	}
	if !equalConstantTime(got, *s.token.Load()) {
		return got, wrongToken
	}
	return got, nil
}

// The token's refusals, made once: a grant's secret is "not the token"
// on every request.
var (
	missingToken = &refusal{status: http.StatusUnauthorized, msg: creds.Say(creds.MissingToken)}
	wrongToken   = &refusal{status: http.StatusForbidden, msg: creds.Say(creds.WrongToken)}
)
