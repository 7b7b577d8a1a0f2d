package fakeidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The AWS sign-in service of `aws login` (SIGNIN-WIRE.md): CreateOAuth2Token
// at POST /v1/token (refresh and code grants, every call proved with DPoP),
// the browser's GET /v1/authorize and the cross-device confirmation page
// GET /v1/sessions/confirmation. Clients reach it with
// AWS_ENDPOINT_URL_SIGNIN set to the fake's URL.

// Client ids of the AWS CLI's two sign-in flows.
const (
	SameDeviceClient  = "arn:aws:signin:::devtools/same-device"
	CrossDeviceClient = "arn:aws:signin:::devtools/cross-device"
)

// SigninOptions tune the fake sign-in service; change them under Lock.
type SigninOptions struct {
	// Session is the console session the browser is signed in as
	// (default arn:aws:iam::111111111111:user/alice).
	Session string
	// CredLifetime is the lifetime of the credentials (default 15 min).
	CredLifetime time.Duration
	// SessionLifetime is how long after the sign-in refreshes work
	// (default 12 h); then TOKEN_EXPIRED.
	SessionLifetime time.Duration
	// CodeTTL is how long an authorization code can be exchanged (default
	// 5 min); then AUTHCODE_EXPIRED.
	CodeTTL time.Duration
	// DPoPSkew is how far a proof's iat may be from the fake's clock
	// (default 5 min).
	DPoPSkew time.Duration
	// ReuseWindow: a used refresh token is answered again (the same
	// answer) for this long; zero refuses it at once.
	ReuseWindow time.Duration
	// Fail makes every refresh of a session (all when the key is "")
	// answer AccessDeniedException with that code (TOKEN_EXPIRED,
	// USER_CREDENTIALS_CHANGED, INSUFFICIENT_PERMISSIONS).
	Fail map[string]string
	// Mint makes the credentials of a session (its ARN); the default
	// invents fake ones.
	Mint func(session string) (RoleCredentials, error)
}

// signinState is the fake sign-in service's memory.
type signinState struct {
	opts    SigninOptions
	idKey   *ecdsa.PrivateKey // signs idTokens (ES384)
	codes   map[string]*signinCode
	refresh map[string]*signinGrant // refresh token -> grant
	jtis    map[string]time.Time
}

type signinCode struct {
	client, redirect, challenge, session string
	expires                              time.Time
	used                                 bool
}

// signinGrant is what a refresh token renews.
type signinGrant struct {
	session, client, jkt string
	signedIn             time.Time
	next                 string    // the token that replaced it, once used
	usedAt               time.Time // when it was used
	answer               []byte    // the answer it got, replayed within ReuseWindow
}

func newSigninState() *signinState {
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	return &signinState{
		opts: SigninOptions{
			Session: "arn:aws:iam::111111111111:user/alice", CredLifetime: 15 * time.Minute,
			SessionLifetime: 12 * time.Hour, CodeTTL: 5 * time.Minute, DPoPSkew: 5 * time.Minute,
			Fail: map[string]string{},
		},
		idKey: key, codes: map[string]*signinCode{}, refresh: map[string]*signinGrant{}, jtis: map[string]time.Time{},
	}
}

// Signin returns the sign-in service's options to change under Lock.
func (s *Server) Signin() *SigninOptions { return &s.si.opts }

func (s *Server) routeSignin(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/token", s.signinToken)
	mux.HandleFunc("GET /v1/authorize", s.signinAuthorize)
	mux.HandleFunc("GET /v1/sessions/confirmation", s.signinConfirmation)
}

// signinError answers as the sign-in service does (restJson1).
func signinError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "error": code, "message": msg})
}

// SigninCache is a ready AWS CLI cache file for session, as `aws login`
// leaves it: fresh credentials, a refresh token bound to a new DPoP key,
// the idToken. It returns the file's name and contents.
func (s *Server) SigninCache(session string) (name string, contents []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	s.mu.Lock()
	now := s.Now()
	refresh := "fake-refresh-" + randomID(16)
	s.si.refresh[refresh] = &signinGrant{session: session, client: SameDeviceClient, jkt: thumbprint(&key.PublicKey), signedIn: now}
	s.mu.Unlock()
	rc, err := s.mintSignin(session)
	if err != nil {
		return "", nil, err
	}
	idToken, err := s.idToken(session, SameDeviceClient, now)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256([]byte(session))
	b, err := json.Marshal(map[string]any{
		"accessToken": map[string]string{
			"accessKeyId": rc.AccessKeyID, "secretAccessKey": rc.SecretAccessKey, "sessionToken": rc.SessionToken,
			"accountId": accountOf(session), "expiresAt": rc.Expiration.UTC().Format("2006-01-02T15:04:05Z"),
		},
		"tokenType": "aws_sigv4", "clientId": SameDeviceClient, "refreshToken": refresh, "idToken": idToken, "dpopKey": pemKey,
	})
	return fmt.Sprintf("%x.json", sum), b, err
}

func accountOf(arn string) string {
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		return parts[4]
	}
	return ""
}

// mintSignin makes the credentials of session.
func (s *Server) mintSignin(session string) (RoleCredentials, error) {
	s.mu.Lock()
	mint, life, now := s.si.opts.Mint, s.si.opts.CredLifetime, s.Now()
	s.mu.Unlock()
	if mint == nil {
		return RoleCredentials{
			AccessKeyID: "ASIA" + strings.ToUpper(randomID(8)), SecretAccessKey: "fake-secret-" + randomID(16),
			SessionToken: "fake-session-" + randomID(24), Expiration: now.Add(life),
		}, nil
	}
	rc, err := mint(session)
	rc.Expiration = now.Add(life) // the service's lifetime, whatever moto says
	return rc, err
}

// signinToken is CreateOAuth2Token.
func (s *Server) signinToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ClientID     string `json:"clientId"`
		GrantType    string `json:"grantType"`
		RefreshToken string `json:"refreshToken"`
		Code         string `json:"code"`
		CodeVerifier string `json:"codeVerifier"`
		RedirectURI  string `json:"redirectUri"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.ParseForm()
		in.ClientID, in.GrantType, in.RefreshToken = r.PostForm.Get("client_id"), r.PostForm.Get("grant_type"), r.PostForm.Get("refresh_token")
		in.Code, in.CodeVerifier, in.RedirectURI = r.PostForm.Get("code"), r.PostForm.Get("code_verifier"), r.PostForm.Get("redirect_uri")
	} else if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.count("CreateOAuth2Token.error.body")
		signinError(w, 400, "ValidationException", "INVALID_REQUEST", "malformed body")
		return
	}
	jkt, why := s.checkDPoP(r)
	if why != "" {
		s.count("CreateOAuth2Token.error." + why)
		signinError(w, 400, "ValidationException", "INVALID_REQUEST", "invalid DPoP proof ("+why+")")
		return
	}
	switch in.GrantType {
	case "refresh_token":
		s.signinRefresh(w, in.ClientID, in.RefreshToken, jkt)
	case "authorization_code":
		s.signinExchange(w, in.ClientID, in.Code, in.CodeVerifier, in.RedirectURI, jkt)
	default:
		s.count("CreateOAuth2Token.error.grant_type")
		signinError(w, 400, "ValidationException", "INVALID_REQUEST", "unsupported grant type")
	}
}

// signinRefresh rotates a refresh token.
func (s *Server) signinRefresh(w http.ResponseWriter, client, token, jkt string) {
	s.mu.Lock()
	g, ok := s.si.refresh[token]
	now := s.Now()
	switch {
	case !ok:
		s.mu.Unlock()
		s.count("CreateOAuth2Token.error.refresh_unknown")
		signinError(w, 400, "ValidationException", "INVALID_REQUEST", "The provided authorization grant is invalid, expired, revoked, or malformed")
		return
	case g.client != client:
		s.mu.Unlock()
		s.count("CreateOAuth2Token.error.client_id")
		signinError(w, 400, "ValidationException", "INVALID_REQUEST", "clientId does not match the grant")
		return
	case g.jkt != jkt:
		s.mu.Unlock()
		s.count("CreateOAuth2Token.error.dpop_binding")
		signinError(w, 400, "ValidationException", "INVALID_REQUEST", "DPoP key does not match the grant")
		return
	case g.next != "":
		if s.si.opts.ReuseWindow > 0 && now.Sub(g.usedAt) <= s.si.opts.ReuseWindow {
			answer := g.answer
			s.mu.Unlock()
			s.count("CreateOAuth2Token.refresh_token.replayed")
			w.Header().Set("Content-Type", "application/json")
			w.Write(answer)
			return
		}
		s.mu.Unlock()
		s.count("CreateOAuth2Token.error.refresh_rotated")
		signinError(w, 400, "ValidationException", "INVALID_REQUEST", "The provided authorization grant is invalid, expired, revoked, or malformed")
		return
	case now.Sub(g.signedIn) >= s.si.opts.SessionLifetime:
		s.mu.Unlock()
		s.count("CreateOAuth2Token.error.TOKEN_EXPIRED")
		signinError(w, 401, "AccessDeniedException", "TOKEN_EXPIRED", "The refresh token has expired.")
		return
	}
	code := s.si.opts.Fail[g.session]
	if code == "" {
		code = s.si.opts.Fail[""]
	}
	if code != "" {
		s.mu.Unlock()
		s.count("CreateOAuth2Token.error." + code)
		status := 403
		if code == "TOKEN_EXPIRED" {
			status = 401
		}
		signinError(w, status, "AccessDeniedException", code, "refused by the test")
		return
	}
	next := "fake-refresh-" + randomID(16)
	g.next, g.usedAt = next, now
	s.si.refresh[next] = &signinGrant{session: g.session, client: g.client, jkt: g.jkt, signedIn: g.signedIn}
	s.mu.Unlock()
	rc, err := s.mintSignin(g.session)
	if err != nil {
		signinError(w, 500, "InternalServerException", "server_error", err.Error())
		return
	}
	answer, _ := json.Marshal(map[string]any{
		"accessToken": map[string]string{"accessKeyId": rc.AccessKeyID, "secretAccessKey": rc.SecretAccessKey, "sessionToken": rc.SessionToken},
		"tokenType":   "aws_sigv4", "expiresIn": int(rc.Expiration.Sub(now) / time.Second), "refreshToken": next,
	})
	s.mu.Lock()
	g.answer = answer
	s.mu.Unlock()
	s.count("CreateOAuth2Token.refresh_token.ok")
	s.count("CreateOAuth2Token.refresh_token.ok:" + g.session)
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
}

// signinExchange trades an authorization code (once) for the session's
// first credentials, its refresh token bound to the proof's key, and an
// idToken.
func (s *Server) signinExchange(w http.ResponseWriter, client, code, verifier, redirect, jkt string) {
	s.mu.Lock()
	c, ok := s.si.codes[code]
	now := s.Now()
	why := ""
	switch {
	case !ok:
		why = "code_unknown"
	case c.used:
		why = "code_reused"
	case c.client != client:
		why = "client_id"
	case c.redirect != redirect:
		why = "redirect_uri"
	case pkceChallenge(verifier) != c.challenge:
		why = "pkce"
	}
	if ok {
		c.used = true
	}
	expired := ok && why == "" && now.After(c.expires)
	s.mu.Unlock()
	if why != "" {
		s.count("CreateOAuth2Token.error." + why)
		signinError(w, 400, "ValidationException", "INVALID_REQUEST", "The provided authorization grant is invalid, expired, revoked, or malformed")
		return
	}
	if expired {
		s.count("CreateOAuth2Token.error.AUTHCODE_EXPIRED")
		signinError(w, 401, "AccessDeniedException", "AUTHCODE_EXPIRED", "The authorization code has expired.")
		return
	}
	rc, err := s.mintSignin(c.session)
	if err != nil {
		signinError(w, 500, "InternalServerException", "server_error", err.Error())
		return
	}
	idToken, err := s.idToken(c.session, client, now)
	if err != nil {
		signinError(w, 500, "InternalServerException", "server_error", err.Error())
		return
	}
	refresh := "fake-refresh-" + randomID(16)
	s.mu.Lock()
	s.si.refresh[refresh] = &signinGrant{session: c.session, client: client, jkt: jkt, signedIn: now}
	s.mu.Unlock()
	s.count("CreateOAuth2Token.authorization_code.ok")
	writeJSON(w, map[string]any{
		"accessToken": map[string]string{"accessKeyId": rc.AccessKeyID, "secretAccessKey": rc.SecretAccessKey, "sessionToken": rc.SessionToken},
		"tokenType":   "aws_sigv4", "expiresIn": int(rc.Expiration.Sub(now) / time.Second), "refreshToken": refresh, "idToken": idToken,
	})
}

func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// idToken is the ES384 JWT the code grant returns, naming the session.
func (s *Server) idToken(session, client string, now time.Time) (string, error) {
	aud := "arn:aws:signin:::cli/same-device"
	if client == CrossDeviceClient {
		aud = "arn:aws:signin:::cli/cross-device"
	}
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"kid": "fake", "typ": "JWT", "alg": "ES384"})
	c, _ := json.Marshal(map[string]any{"sub": session, "session_arn": session, "aud": aud, "iss": s.URL + "/signin", "iat": now.Unix(), "exp": now.Unix() + 900})
	msg := b64(h) + "." + b64(c)
	sum := sha512.Sum384([]byte(msg))
	r, ss, err := ecdsa.Sign(rand.Reader, s.si.idKey, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	ss.FillBytes(sig[48:])
	return msg + "." + b64(sig), nil
}

// checkDPoP checks the request's DPoP proof fully and returns the key's
// thumbprint, or why the proof is refused.
func (s *Server) checkDPoP(r *http.Request) (jkt, why string) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return "", "dpop_missing"
	}
	parts := strings.Split(proofs[0], ".")
	if len(parts) != 3 {
		return "", "dpop_format"
	}
	var hdr struct {
		Typ, Alg string
		JWK      struct{ Kty, Crv, X, Y, D string }
	}
	var claims struct {
		Htm, Htu, Jti string
		Iat           int64
	}
	if decodeJSON(parts[0], &hdr) != nil || decodeJSON(parts[1], &claims) != nil {
		return "", "dpop_format"
	}
	if hdr.Typ != "dpop+jwt" || hdr.Alg != "ES256" {
		return "", "dpop_header"
	}
	if hdr.JWK.Kty != "EC" || hdr.JWK.Crv != "P-256" || hdr.JWK.D != "" {
		return "", "dpop_jwk"
	}
	xb, err1 := base64.RawURLEncoding.DecodeString(hdr.JWK.X)
	yb, err2 := base64.RawURLEncoding.DecodeString(hdr.JWK.Y)
	if err1 != nil || err2 != nil || len(xb) > 32 || len(yb) > 32 {
		return "", "dpop_jwk"
	}
	if len(xb) < 32 || len(yb) < 32 {
		s.count("CreateOAuth2Token.dpop.short_coordinate")
	}
	point := make([]byte, 65)
	point[0] = 4
	copy(point[1+32-len(xb):33], xb)
	copy(point[33+32-len(yb):], yb)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point) // checks it is on the curve
	if err != nil {
		return "", "dpop_jwk"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", "dpop_signature"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", "dpop_signature"
	}
	if claims.Htm != r.Method {
		return "", "dpop_htm"
	}
	if u, err := url.Parse(claims.Htu); err != nil || u.Scheme+"://"+u.Host+u.Path != s.URL+r.URL.Path {
		return "", "dpop_htu"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	if d := now.Sub(time.Unix(claims.Iat, 0)); d > s.si.opts.DPoPSkew || d < -s.si.opts.DPoPSkew {
		return "", "dpop_iat"
	}
	if claims.Jti == "" {
		return "", "dpop_jti"
	}
	if _, seen := s.si.jtis[claims.Jti]; seen {
		return "", "dpop_replay"
	}
	s.si.jtis[claims.Jti] = now
	for j, at := range s.si.jtis {
		if now.Sub(at) > 2*s.si.opts.DPoPSkew {
			delete(s.si.jtis, j)
		}
	}
	return thumbprint(pub), ""
}

func decodeJSON(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// thumbprint is the RFC 7638 thumbprint of an EC key, its coordinates
// padded to 32 bytes.
func thumbprint(pub *ecdsa.PublicKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	p, _ := pub.Bytes() // 0x04 || X || Y, 32 bytes each
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + b64(p[1:33]) + `","y":"` + b64(p[33:65]) + `"}`))
	return b64(sum[:])
}

// signinAuthorize is the browser's sign-in page: the console session
// (SigninOptions.Session) approves at once and the browser is redirected
// with a code; a bad client or redirect is a 400 page, other refusals
// redirect with error.
func (s *Server) signinAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client, redirect := q.Get("client_id"), q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	okRedirect := err == nil && (client == SameDeviceClient && ru.Scheme == "http" && ru.Hostname() == "127.0.0.1" && ru.Port() != "" ||
		client == CrossDeviceClient && redirect == s.URL+"/v1/sessions/confirmation")
	if !okRedirect {
		s.count("SigninAuthorize.error.client_or_redirect")
		http.Error(w, "bad client_id or redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(v url.Values) {
		v.Set("state", q.Get("state"))
		u := *ru
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	switch q.Get("code_challenge_method") {
	case "SHA-256":
	case "S256":
		s.count("SigninAuthorize.S256")
	default:
		s.count("SigninAuthorize.error.challenge_method")
		back(url.Values{"error": {"invalid_request"}})
		return
	}
	if q.Get("response_type") != "code" || q.Get("scope") != "openid" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" {
		s.count("SigninAuthorize.error.request")
		back(url.Values{"error": {"invalid_request"}})
		return
	}
	code := "fake-code-" + randomID(12)
	s.mu.Lock()
	s.si.codes[code] = &signinCode{client: client, redirect: redirect, challenge: q.Get("code_challenge"), session: s.si.opts.Session, expires: s.Now().Add(s.si.opts.CodeTTL)}
	s.mu.Unlock()
	s.count("SigninAuthorize.ok")
	back(url.Values{"code": {code}})
}

// signinConfirmation shows the cross-device code to paste.
func (s *Server) signinConfirmation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("code") == "" {
		http.Error(w, "no code", http.StatusBadRequest)
		return
	}
	v := url.Values{"code": {q.Get("code")}, "state": {q.Get("state")}}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><body><p>Paste this code where you ran the sign-in:</p><pre id=\"verification-code\">%s</pre></body></html>\n",
		html.EscapeString(base64.StdEncoding.EncodeToString([]byte(v.Encode()))))
}

// ConfirmationCode reads the code off a confirmation page, as the user
// copies it.
func ConfirmationCode(page string) (string, error) {
	_, rest, ok := strings.Cut(page, `<pre id="verification-code">`)
	code, _, ok2 := strings.Cut(rest, "</pre>")
	if !ok || !ok2 {
		return "", errors.New("no verification code on the page")
	}
	return html.UnescapeString(code), nil
}
