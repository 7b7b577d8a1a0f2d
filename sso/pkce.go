package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
)

// pkceRedirectURI is the redirect URI PKCE clients register: without a
// port, since the real one carries the port of each login's listener
// (loopback redirects may vary the port, RFC 8252 §7.3).
const pkceRedirectURI = "http://127.0.0.1/oauth/callback"

// callbackPath is where the browser comes back to.
const callbackPath = "/oauth/callback"

// graphical reports whether a browser opened by rolecall runs on this
// machine, so that its redirect to 127.0.0.1 reaches rolecall: not in an
// SSH session, and on Linux and the BSDs only with a display.
func graphical() bool {
	if os.Getenv("SSH_CONNECTION") != "" || os.Getenv("SSH_TTY") != "" {
		return false
	}
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// pkceLogin is the authorization-code flow with PKCE: a loopback listener,
// the browser sent to Identity Center's /authorize, the code it redirects
// back with traded for a token.
func (c *Client) pkceLogin(ctx context.Context, s *Session, f *flow, _ bool) (*Token, error) {
	client, err := c.oidc(ctx, s.Region)
	if err != nil {
		return nil, err
	}
	reg, err := c.registration(ctx, client, s, pkceClient)
	if err != nil {
		return nil, err
	}
	verifier, state := randomString(32), randomString(16)
	// Bound before the browser opens, so the redirect always finds it.
	cb, err := listenCallback(state, c.opts.AcceptCallback, c.log, func(code, desc string) error {
		return fmt.Errorf("IAM Identity Center refused the login (%s %s): run `rolecall login --pkce` again", code, desc)
	})
	if err != nil {
		return nil, err
	}
	defer cb.close()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {reg.ClientID},
		"redirect_uri":          {cb.redirectURI},
		"state":                 {state},
		"code_challenge_method": {"S256"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"scopes":                {strings.Join(s.scopes(), ",")},
	}
	authURL, err := authorizeURL(ctx, client, s.Region, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	f.prompt = Prompt{Session: s.Key, VerificationURI: authURL, VerificationURIComplete: authURL, ExpiresAt: c.opts.Now().Add(c.opts.PKCEWait)}
	c.mu.Unlock()
	close(f.started)
	c.publish(Event{Session: s.Key})
	c.openBrowser(s, authURL)
	code, err := cb.wait(ctx, c.opts.PKCEWait)
	if err != nil {
		return nil, err
	}
	out, err := client.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: aws.String(reg.ClientID), ClientSecret: aws.String(reg.ClientSecret),
		GrantType: aws.String("authorization_code"), Code: aws.String(code),
		CodeVerifier: aws.String(verifier), RedirectUri: aws.String(cb.redirectURI),
	})
	if err != nil {
		return nil, c.pkceTokenError(s, err)
	}
	return c.newToken(s, out, nil, pkceClient), nil
}

// pkceTokenError says what a refused code exchange means.
func (c *Client) pkceTokenError(s *Session, err error) error {
	var (
		grant   *types.InvalidGrantException
		denied  *types.AccessDeniedException
		invalid *types.InvalidClientException
	)
	switch {
	case errors.As(err, &grant):
		return errors.New("IAM Identity Center refused the authorization code (expired, already used, or not made for this login): run `rolecall login --pkce` again")
	case errors.As(err, &denied):
		return errors.New("the login was denied in the browser")
	case errors.As(err, &invalid):
		c.opts.Keyring.Delete(pkceClient.entry(s.Key))
		return errors.New("IAM Identity Center no longer knows rolecall's client registration: run `rolecall login` again")
	}
	return fmt.Errorf("create token: %w", err)
}

// authorizeURL is the OIDC endpoint's /authorize with query q. The host
// comes from the SDK's own endpoint resolution, so partitions and
// AWS_ENDPOINT_URL_SSO_OIDC move it as they move the API calls.
func authorizeURL(ctx context.Context, client *ssooidc.Client, region string, q url.Values) (string, error) {
	o := client.Options()
	resolver := o.EndpointResolverV2
	if resolver == nil {
		resolver = ssooidc.NewDefaultEndpointResolverV2()
	}
	ep, err := resolver.ResolveEndpoint(ctx, ssooidc.EndpointParameters{Region: aws.String(region), Endpoint: o.BaseEndpoint})
	if err != nil {
		return "", fmt.Errorf("IAM Identity Center sign-in address for region %s: %w", region, err)
	}
	u := ep.URI
	u.Path = strings.TrimSuffix(u.Path, "/") + "/authorize"
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// randomString is n random bytes, base64url without padding: the
// characters RFC 7636 allows in a verifier.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// callback is the loopback listener that receives the browser's redirect.
// Its first answer counts; pkceLogin owns it and closes it.
type callback struct {
	state       string
	accept      func(local, remote net.Addr) error
	log         *slog.Logger
	refused     func(code, desc string) error // what an error redirect means
	redirectURI string
	srv         *http.Server
	result      chan callbackResult
	served      sync.WaitGroup
}

type callbackResult struct {
	code string
	err  error
}

func listenCallback(state string, accept func(local, remote net.Addr) error, log *slog.Logger, refused func(code, desc string) error) (*callback, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the browser's redirect on 127.0.0.1: %w", err)
	}
	cb := &callback{
		state:       state,
		accept:      accept,
		log:         log,
		refused:     refused,
		redirectURI: fmt.Sprintf("http://127.0.0.1:%d%s", l.Addr().(*net.TCPAddr).Port, callbackPath),
		result:      make(chan callbackResult, 1),
	}
	cb.srv = &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second}
	cb.served.Add(1)
	go func() {
		defer cb.served.Done()
		cb.srv.Serve(l)
	}()
	return cb, nil
}

// close stops the listener; the page of an answer being served is still
// sent (for a bounded time), so the browser never shows a broken page.
func (cb *callback) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if cb.srv.Shutdown(ctx) != nil {
		cb.srv.Close()
	}
	cb.served.Wait()
}

// ServeHTTP takes the redirect: the code when the state is this login's,
// Identity Center's refusal otherwise; the page tells the user the window
// can be closed. A request with another state is answered 400 and ignored:
// any local process can reach the port, and must not end the login.
func (cb *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if cb.accept != nil {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		remote, _ := net.ResolveTCPAddr("tcp", r.RemoteAddr)
		if local == nil || remote == nil {
			http.Error(w, "rolecall: cannot tell who is asking", http.StatusForbidden)
			return
		}
		if err := cb.accept(local, remote); err != nil {
			cb.log.Warn("login callback refused", "err", err)
			http.Error(w, "rolecall: "+err.Error(), http.StatusForbidden)
			return
		}
	}
	if r.URL.Path != callbackPath || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	var res callbackResult
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(cb.state)) != 1 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "rolecall: this is not the answer of the login in progress (another login's state: a stale or forged redirect). You can close this window.\n")
		return
	}
	switch {
	case q.Get("error") != "":
		res.err = cb.refused(q.Get("error"), q.Get("error_description"))
	case q.Get("code") == "":
		res.err = errors.New("the browser came back without an authorization code: run `rolecall login` again")
	default:
		res.code = q.Get("code")
	}
	select {
	case cb.result <- res:
	default: // a later answer: the first one counts
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if res.err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "rolecall: the login failed: %v\n\nYou can close this window.\n", res.err)
		return
	}
	fmt.Fprint(w, "rolecall: signed in. You can close this window.\n")
}

// wait returns the code the browser brought back, or why there is none.
func (cb *callback) wait(ctx context.Context, limit time.Duration) (string, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case res := <-cb.result:
		return res.code, res.err
	case <-t.C:
		return "", fmt.Errorf("no answer from the browser within %s: run `rolecall login` again (with --no-browser to approve a code on another device)", limit)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
