package fakeidc

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// authCode is an authorization code handed to the browser by /authorize.
type authCode struct {
	clientID    string
	challenge   string
	redirectURI string
	startURL    string
	expires     time.Time
}

// SetAuthorizeError makes /authorize redirect with this OAuth error (such
// as "access_denied") instead of a code; "" restores approval.
func (s *Server) SetAuthorizeError(code string) {
	s.mu.Lock()
	s.authorizeError = code
	s.mu.Unlock()
}

// authorize is the browser's stop in the authorization-code flow: the user
// is taken as signed in and approving, so it redirects at once to the
// registered loopback redirect URI with a code and the client's state.
// Refusals that cannot be redirected (unknown client, unregistered
// redirect URI) are plain 400 pages, as a real authorization server shows.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.count("Authorize")
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[q.Get("client_id")]
	if !ok || !slices.Contains(c.grants, "authorization_code") {
		http.Error(w, "unknown client, or not registered for the authorization_code grant", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirectAllowed(c.redirects, redirect) {
		http.Error(w, "redirect_uri was not registered by this client", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
		back.Set("error_description", "code_challenge with code_challenge_method S256 is required")
	case q.Get("scopes") == "" && q.Get("scope") == "":
		back.Set("error", "invalid_scope")
	case s.authorizeError != "":
		back.Set("error", s.authorizeError)
	default:
		code := "code-" + randomID(16)
		s.codes[code] = &authCode{
			clientID: q.Get("client_id"), challenge: q.Get("code_challenge"), redirectURI: redirect.String(),
			startURL: c.issuer, expires: s.Now().Add(5 * time.Minute),
		}
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// redirectAllowed: the redirect URI is one registered, where a registered
// loopback URI without a port allows any port (RFC 8252 §7.3).
func redirectAllowed(registered []string, u *url.URL) bool {
	for _, reg := range registered {
		ru, err := url.Parse(reg)
		if err != nil {
			continue
		}
		if ru.Scheme == u.Scheme && ru.Hostname() == u.Hostname() && ru.Path == u.Path &&
			(ru.Port() == "" || ru.Port() == u.Port()) && u.RawQuery == "" {
			return true
		}
	}
	return false
}

// redeemLocked trades an authorization code once: the same client, the
// same redirect URI, in time, and a verifier whose S256 is the challenge.
// It returns the start URL the token is for, or why the grant is refused.
func (s *Server) redeemLocked(clientID, code, verifier, redirectURI string) (startURL, why string) {
	a, ok := s.codes[code]
	if !ok {
		return "", "unknown or already used authorization code"
	}
	delete(s.codes, code) // single use, even when refused
	sum := sha256.Sum256([]byte(verifier))
	switch {
	case a.clientID != clientID:
		return "", "the code was issued to another client"
	case a.redirectURI != redirectURI:
		return "", "redirectUri differs from the one of the authorization request"
	case !s.Now().Before(a.expires):
		return "", "the authorization code has expired"
	case base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge:
		return "", "codeVerifier does not match the code_challenge"
	}
	return a.startURL, ""
}
