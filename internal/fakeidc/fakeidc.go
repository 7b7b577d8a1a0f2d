// Package fakeidc is a fake AWS IAM Identity Center for tests: the SSO OIDC
// service (RegisterClient, StartDeviceAuthorization, CreateToken, and the
// browser's /authorize of the authorization-code flow with PKCE), the
// SSO portal (ListAccounts, ListAccountRoles, GetRoleCredentials, Logout)
// the AWS sign-in federation endpoint (/federation) and the AWS sign-in
// service of `aws login` (signin.go; AWS_ENDPOINT_URL_SIGNIN),
// speaking the restJson1 wire protocol that aws-sdk-go-v2's ssooidc and sso
// clients send and decode. Point the SDK at it with AWS_ENDPOINT_URL_SSO_OIDC
// and AWS_ENDPOINT_URL_SSO (or BaseEndpoint); both services share its URL.
//
// It is a test tool and never linked into rolecall.
package fakeidc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Account is an AWS account the user may enter, with its roles.
type Account struct {
	ID, Name, Email string
	Roles           []string
	// StartURL, when set, shows the account only to tokens of sessions
	// started at that URL (one fake serving several sso-sessions).
	StartURL string
}

// RoleCredentials are what GetRoleCredentials hands out.
type RoleCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// Server is the fake. Change its exported fields before the first request
// or under Lock.
type Server struct {
	*httptest.Server

	mu sync.Mutex
	// Accounts the user can see.
	Accounts []Account
	// PageSize caps every page of ListAccounts and ListAccountRoles
	// (default 2, so that paging is always exercised).
	PageSize int
	// Latency is added to every portal call.
	Latency time.Duration
	// AccessTokenTTL is the lifetime of access tokens (default 8 h).
	AccessTokenTTL time.Duration
	// DeviceCodeTTL is how long a user code can be approved (default 10 min).
	DeviceCodeTTL time.Duration
	// Interval is the polling interval it asks clients for (default 1 s).
	Interval int
	// ThrottleNext makes the next n portal calls answer 429.
	ThrottleNext int
	// SlowDownNext makes the next n device-code token polls answer slow_down.
	SlowDownNext int
	// NoRefreshTokens issues access tokens only, so a session ends when
	// its token does.
	NoRefreshTokens bool
	// Outage makes every call answer 503, as during an Identity Center
	// outage (the calls are still counted: AllCalls).
	Outage bool
	// StallPolls makes the next n device-code token polls hang until the
	// client gives up, as on a half-open connection.
	StallPolls int
	// Mint makes role credentials; the default invents fake ones. Set it
	// under Lock when clients the race detector cannot see (other
	// processes) may already be calling.
	Mint func(accountID, role string) (RoleCredentials, error)
	// Now is the fake's clock (default time.Now).
	Now func() time.Time
	// SessionTTL is how long a sign-in (an Identity Center session) lasts
	// (0: for ever): its refresh tokens are refused after it, and its
	// access tokens end with it at the latest.
	SessionTTL time.Duration

	// signedIn is the browser's sign-in to the portal: a login approved
	// while it lasts joins it (signing in again does not start a new
	// session); Logout ends it.
	signedIn *signIn

	si             *signinState
	clients        map[string]client // clientId -> registration
	devices        map[string]*device
	codes          map[string]*authCode // authorization code -> what it grants
	authorizeError string
	issued         map[string]RoleCredentials // access key id -> what GetRoleCredentials handed out
	signin         map[string]string          // sign-in token -> access key id
	tokens         map[string]grant           // access token -> what it grants
	refresh        map[string]grant           // refresh token -> what it renews
	calls          map[string]int
	all            atomic.Int64
	inflight       atomic.Int32
	peak           atomic.Int32
}

type client struct {
	secret    string
	scopes    []string
	grants    []string
	redirects []string
	issuer    string
}

// grant is what a token was issued for.
type grant struct {
	clientID string
	startURL string
	expires  time.Time
	session  *signIn
}

// signIn is one Identity Center session: a sign-in in the browser.
type signIn struct {
	started time.Time
	ended   bool
}

// liveLocked reports whether session si still lasts.
func (s *Server) liveLocked(si *signIn) bool {
	return si != nil && !si.ended && (s.SessionTTL == 0 || s.Now().Before(si.started.Add(s.SessionTTL)))
}

// browserSessionLocked is the session a login approved now belongs to:
// the browser's sign-in while it lasts, else a new one.
func (s *Server) browserSessionLocked() *signIn {
	if !s.liveLocked(s.signedIn) {
		s.signedIn = &signIn{started: s.Now()}
	}
	return s.signedIn
}

// SessionStarted is when the Identity Center session of an access token
// began (false for an unknown token).
func (s *Server) SessionStarted(accessToken string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.tokens[accessToken]
	if !ok || g.session == nil {
		return time.Time{}, false
	}
	return g.session.started, true
}

type device struct {
	startURL string
	clientID string
	userCode string
	expires  time.Time
	state    string // pending, approved, denied, used
}

// New starts a fake with accounts.
func New(accounts ...Account) *Server {
	s := &Server{
		Accounts: accounts, PageSize: 2, AccessTokenTTL: 8 * time.Hour, DeviceCodeTTL: 10 * time.Minute,
		Interval: 1, Now: time.Now,
		clients: map[string]client{}, devices: map[string]*device{}, codes: map[string]*authCode{}, tokens: map[string]grant{},
		issued: map[string]RoleCredentials{}, signin: map[string]string{},
		refresh: map[string]grant{}, calls: map[string]int{}, si: newSigninState(),
	}
	mux := http.NewServeMux()
	s.routeSignin(mux)
	mux.HandleFunc("POST /client/register", s.register)
	mux.HandleFunc("POST /device_authorization", s.deviceAuthorization)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /device", s.approvePage)
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("GET /federation", s.federation)
	mux.HandleFunc("GET /assignment/accounts", s.portal("ListAccounts", s.listAccounts))
	mux.HandleFunc("GET /assignment/roles", s.portal("ListAccountRoles", s.listRoles))
	mux.HandleFunc("GET /federation/credentials", s.portal("GetRoleCredentials", s.roleCredentials))
	mux.HandleFunc("POST /logout", s.portal("Logout", s.logout))
	s.Server = httptest.NewServer(s.outage(mux))
	return s
}

// outage counts every request and answers 503 to all of them while
// Outage is set.
func (s *Server) outage(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.all.Add(1)
		s.mu.Lock()
		down := s.Outage
		s.mu.Unlock()
		if down {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", "ServiceUnavailableException")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"message":"Service Unavailable"}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// AllCalls is how many requests reached the fake, outage answers included.
func (s *Server) AllCalls() int { return int(s.all.Load()) }

// ForgetClients drops every client registration, as Identity Center does
// when one expires early or is revoked: their calls answer
// InvalidClientException.
func (s *Server) ForgetClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.clients)
}

// Lock and Unlock guard changes to the exported fields while serving.
func (s *Server) Lock()   { s.mu.Lock() }
func (s *Server) Unlock() { s.mu.Unlock() }

// Calls reports how often an operation was called (by its API name).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// PeakConcurrency is the most portal calls served at once.
func (s *Server) PeakConcurrency() int { return int(s.peak.Load()) }

// Approve approves a pending user code, as the user would in the browser.
func (s *Server) Approve(userCode string) bool { return s.setDevice(userCode, "approved") }

// Deny refuses a pending user code.
func (s *Server) Deny(userCode string) bool { return s.setDevice(userCode, "denied") }

// PendingCodes lists user codes waiting for approval.
func (s *Server) PendingCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, d := range s.devices {
		if d.state == "pending" {
			out = append(out, d.userCode)
		}
	}
	return out
}

// RevokeAll invalidates every access and refresh token, as a session
// ended by an administrator.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
	clear(s.refresh)
}

func (s *Server) setDevice(userCode, state string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == userCode && d.state == "pending" {
			d.state = state
			return true
		}
	}
	return false
}

func (s *Server) count(op string) {
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// oidcError answers as SSO OIDC does: the type in X-Amzn-ErrorType, the
// OAuth code in the body's "error".
func oidcError(w http.ResponseWriter, status int, typ, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazonaws.ssooidc/")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// portalError answers as the SSO portal does.
func portalError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	s.count("RegisterClient")
	var req struct {
		ClientName   string   `json:"clientName"`
		ClientType   string   `json:"clientType"`
		Scopes       []string `json:"scopes"`
		GrantTypes   []string `json:"grantTypes"`
		RedirectUris []string `json:"redirectUris"`
		IssuerURL    string   `json:"issuerUrl"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ClientName == "" || req.ClientType != "public" {
		oidcError(w, 400, "InvalidClientMetadataException", "invalid_client_metadata", "clientName and clientType public are required")
		return
	}
	id, secret := "client-"+randomID(8), "secret-"+randomID(16)
	s.mu.Lock()
	s.clients[id] = client{secret: secret, scopes: req.Scopes, grants: req.GrantTypes, redirects: req.RedirectUris, issuer: req.IssuerURL}
	now := s.Now()
	s.mu.Unlock()
	writeJSON(w, map[string]any{
		"clientId": id, "clientSecret": secret,
		"clientIdIssuedAt": now.Unix(), "clientSecretExpiresAt": now.Add(90 * 24 * time.Hour).Unix(),
	})
}

func (s *Server) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	s.count("StartDeviceAuthorization")
	var req struct{ ClientID, ClientSecret, StartURL string }
	json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[req.ClientID]; !ok || c.secret != req.ClientSecret {
		oidcError(w, 401, "InvalidClientException", "invalid_client", "unknown client")
		return
	}
	if req.StartURL == "" {
		oidcError(w, 400, "InvalidRequestException", "invalid_request", "startUrl is required")
		return
	}
	code := "device-" + randomID(16)
	user := strings.ToUpper(randomID(2) + "-" + randomID(2))
	s.devices[code] = &device{startURL: req.StartURL, clientID: req.ClientID, userCode: user, expires: s.Now().Add(s.DeviceCodeTTL), state: "pending"}
	writeJSON(w, map[string]any{
		"deviceCode": code, "userCode": user,
		"verificationUri":         s.URL + "/device",
		"verificationUriComplete": s.URL + "/device?user_code=" + user,
		"expiresIn":               int(s.DeviceCodeTTL.Seconds()), "interval": s.Interval,
	})
}

// approvePage is the verification URL: visiting it approves the code, like
// a user clicking "Allow".
func (s *Server) approvePage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("user_code")
	if !s.Approve(code) {
		http.Error(w, "no pending request with code "+code, http.StatusNotFound)
		return
	}
	w.Write([]byte("Request approved. You can close this window.\n"))
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.count("CreateToken")
	var req struct {
		ClientID, ClientSecret, GrantType, DeviceCode, RefreshToken string
		Code, CodeVerifier, RedirectURI                             string
	}
	json.NewDecoder(r.Body).Decode(&req)
	s.mu.Lock()
	if req.GrantType == "urn:ietf:params:oauth:grant-type:device_code" && s.StallPolls > 0 {
		s.StallPolls--
		s.mu.Unlock()
		select { // until the client gives up (bounded, so Close never waits long)
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	}
	defer s.mu.Unlock()
	c, ok := s.clients[req.ClientID]
	if !ok || c.secret != req.ClientSecret {
		oidcError(w, 401, "InvalidClientException", "invalid_client", "unknown client")
		return
	}
	var startURL string
	var session *signIn
	switch req.GrantType {
	case "urn:ietf:params:oauth:grant-type:device_code":
		if startURL, ok = s.deviceGrantLocked(w, req.ClientID, req.DeviceCode); !ok {
			return
		}
		session = s.browserSessionLocked()
	case "refresh_token":
		g, ok := s.refresh[req.RefreshToken]
		if !ok || g.clientID != req.ClientID || (g.session != nil && !s.liveLocked(g.session)) {
			oidcError(w, 400, "InvalidGrantException", "invalid_grant", "refresh token is invalid or revoked")
			return
		}
		delete(s.refresh, req.RefreshToken) // rotated
		startURL, session = g.startURL, g.session
	case "authorization_code":
		var why string
		if startURL, why = s.redeemLocked(req.ClientID, req.Code, req.CodeVerifier, req.RedirectURI); why != "" {
			oidcError(w, 400, "InvalidGrantException", "invalid_grant", why)
			return
		}
		session = s.browserSessionLocked()
	default:
		oidcError(w, 400, "UnsupportedGrantTypeException", "unsupported_grant_type", req.GrantType)
		return
	}
	access := "access-" + randomID(24)
	ttl := s.AccessTokenTTL
	if s.SessionTTL > 0 {
		ttl = min(ttl, session.started.Add(s.SessionTTL).Sub(s.Now()))
	}
	s.tokens[access] = grant{clientID: req.ClientID, startURL: startURL, expires: s.Now().Add(ttl), session: session}
	out := map[string]any{"accessToken": access, "tokenType": "Bearer", "expiresIn": int(ttl.Seconds())}
	if !s.NoRefreshTokens && slices.Contains(c.grants, "refresh_token") && slices.Contains(c.scopes, "sso:account:access") {
		rt := "refresh-" + randomID(24)
		s.refresh[rt] = grant{clientID: req.ClientID, startURL: startURL, session: session}
		out["refreshToken"] = rt
	}
	writeJSON(w, out)
}

// deviceGrantLocked redeems an approved device code once; otherwise it
// writes the error Identity Center answers (pending, slow down, expired,
// denied) and returns false.
func (s *Server) deviceGrantLocked(w http.ResponseWriter, clientID, code string) (startURL string, ok bool) {
	d, ok := s.devices[code]
	switch {
	case !ok || d.clientID != clientID || d.state == "used":
		oidcError(w, 400, "InvalidGrantException", "invalid_grant", "unknown device code")
		return "", false
	case !s.Now().Before(d.expires):
		oidcError(w, 400, "ExpiredTokenException", "expired_token", "the device code has expired")
		return "", false
	case s.SlowDownNext > 0:
		s.SlowDownNext--
		oidcError(w, 400, "SlowDownException", "slow_down", "")
		return "", false
	case d.state == "pending":
		oidcError(w, 400, "AuthorizationPendingException", "authorization_pending", "")
		return "", false
	case d.state == "denied":
		oidcError(w, 400, "AccessDeniedException", "access_denied", "the user denied the request")
		return "", false
	}
	d.state = "used"
	return d.startURL, true
}

// portal counts the call, checks the bearer token, counts concurrency, applies latency and
// throttling, then serves h.
func (s *Server) portal(op string, h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.count(op)
		n := s.inflight.Add(1)
		defer s.inflight.Add(-1)
		for {
			p := s.peak.Load()
			if n <= p || s.peak.CompareAndSwap(p, n) {
				break
			}
		}
		s.mu.Lock()
		latency := s.Latency
		throttle := s.ThrottleNext > 0
		if throttle {
			s.ThrottleNext--
		}
		g, ok := s.tokens[r.Header.Get("X-Amz-Sso_bearer_token")]
		valid := ok && s.Now().Before(g.expires) && (g.session == nil || !g.session.ended)
		s.mu.Unlock()
		r = r.WithContext(context.WithValue(r.Context(), grantKey{}, g))
		time.Sleep(latency)
		switch {
		case throttle:
			portalError(w, 429, "TooManyRequestsException", "Rate exceeded")
		case !valid:
			portalError(w, 401, "UnauthorizedException", "Session token not found or invalid")
		default:
			h(w, r)
		}
	}
}

type grantKey struct{}

// visible reports whether the request's token may see account a.
func visible(r *http.Request, a Account) bool {
	g, _ := r.Context().Value(grantKey{}).(grant)
	return a.StartURL == "" || a.StartURL == g.startURL
}

// page cuts items at next_token, with the smaller of max_result and
// PageSize per page.
func (s *Server) page(r *http.Request, n int) (from, to int, next string, err error) {
	size := s.PageSize
	if m, e := strconv.Atoi(r.URL.Query().Get("max_result")); e == nil && m > 0 && m < size {
		size = m
	}
	if t := r.URL.Query().Get("next_token"); t != "" {
		if from, err = strconv.Atoi(strings.TrimPrefix(t, "page-")); err != nil || from > n {
			return 0, 0, "", fmt.Errorf("bad next_token %q", t)
		}
	}
	to = min(from+size, n)
	if to < n {
		next = "page-" + strconv.Itoa(to)
	}
	return from, to, next, nil
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var accounts []Account
	for _, a := range s.Accounts {
		if visible(r, a) {
			accounts = append(accounts, a)
		}
	}
	s.mu.Unlock()
	from, to, next, err := s.page(r, len(accounts))
	if err != nil {
		portalError(w, 400, "InvalidRequestException", err.Error())
		return
	}
	list := []map[string]string{}
	for _, a := range accounts[from:to] {
		list = append(list, map[string]string{"accountId": a.ID, "accountName": a.Name, "emailAddress": a.Email})
	}
	out := map[string]any{"accountList": list}
	if next != "" {
		out["nextToken"] = next
	}
	writeJSON(w, out)
}

func (s *Server) account(id string) (Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return Account{}, false
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) {
	a, ok := s.account(r.URL.Query().Get("account_id"))
	if !ok || !visible(r, a) {
		portalError(w, 404, "ResourceNotFoundException", "no such account")
		return
	}
	from, to, next, err := s.page(r, len(a.Roles))
	if err != nil {
		portalError(w, 400, "InvalidRequestException", err.Error())
		return
	}
	list := []map[string]string{}
	for _, role := range a.Roles[from:to] {
		list = append(list, map[string]string{"accountId": a.ID, "roleName": role})
	}
	out := map[string]any{"roleList": list}
	if next != "" {
		out["nextToken"] = next
	}
	writeJSON(w, out)
}

func (s *Server) roleCredentials(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a, ok := s.account(q.Get("account_id"))
	role := q.Get("role_name")
	if !ok || !visible(r, a) || !slices.Contains(a.Roles, role) {
		portalError(w, 403, "ForbiddenException", "No access")
		return
	}
	s.mu.Lock()
	mint := s.Mint
	s.mu.Unlock()
	if mint == nil {
		mint = s.fakeCredentials
	}
	c, err := mint(a.ID, role)
	if err != nil {
		portalError(w, 500, "InternalServerException", err.Error())
		return
	}
	s.mu.Lock()
	s.issued[c.AccessKeyID] = c
	s.mu.Unlock()
	writeJSON(w, map[string]any{"roleCredentials": map[string]any{
		"accessKeyId": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey,
		"sessionToken": c.SessionToken, "expiration": c.Expiration.UnixMilli(),
	}})
}

func (s *Server) fakeCredentials(account, role string) (RoleCredentials, error) {
	return RoleCredentials{
		AccessKeyID:     "ASIA" + strings.ToUpper(randomID(8)),
		SecretAccessKey: "fake/" + randomID(16),
		SessionToken:    "fake-session-" + randomID(32),
		Expiration:      s.Now().Add(time.Hour).Truncate(time.Second),
	}, nil
}

// logout ends the Identity Center session of the token: every token of
// it, and the browser's sign-in, so the next login starts a new session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	token := r.Header.Get("X-Amz-Sso_bearer_token")
	if g := s.tokens[token]; g.session != nil {
		g.session.ended = true
		if s.signedIn == g.session {
			s.signedIn = nil
		}
	}
	delete(s.tokens, token)
	s.mu.Unlock()
	w.WriteHeader(200)
}
