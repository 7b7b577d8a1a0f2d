package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/grants"
	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/private"
)

const (
	testToken  = "test-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	testKeyID  = "ASIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testSess   = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"
)

// testFetcher mints one-hour credentials for any profile but "missing".
var testFetcher = creds.FetcherFunc(func(_ context.Context, p creds.Profile) (creds.Credentials, error) {
	if p.Name == "missing" {
		return creds.Credentials{}, errors.New("no such profile")
	}
	now := time.Now()
	return creds.Credentials{
		AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: testSess,
		Issued: now, Expiration: now.Add(time.Hour).Truncate(time.Second),
		RoleARN: "arn:aws:iam::111122223333:role/" + p.Name, AccountID: "111122223333",
	}, nil
})

// testManager returns a manager with "dev" in the default slot and
// "Acme Corp/Admin" in a named slot.
func testManager(t testing.TB) *creds.Manager {
	t.Helper()
	m := creds.NewManager(creds.Config{Fetcher: testFetcher})
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	if _, err := m.Load(ctx, creds.DefaultSlot, creds.Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load(ctx, "Acme Corp/Admin", creds.Profile{Name: "Acme Corp/Admin"}); err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestServer(t testing.TB, mod func(*Options)) *Server {
	t.Helper()
	opts := Options{Source: testManager(t), Token: testToken, Addr: "127.0.0.1:0"}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do sends a request to the handler directly (no connection).
func do(s *Server, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.Host = "127.0.0.1:4144"
	for k, v := range hdr {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}

func auth(extra ...string) map[string]string {
	h := map[string]string{"Authorization": testToken}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	if e.Message == "" {
		t.Error("error without a message")
	}
	return e
}

func TestCredentialsBody(t *testing.T) {
	s := newTestServer(t, nil)
	for _, target := range []string{"/", "/slot/Acme%20Corp%2FAdmin"} {
		w := do(s, "GET", target, auth())
		if w.Code != 200 {
			t.Fatalf("GET %s = %d %s", target, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		var got map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn", "AccountId"} {
			if got[k] == "" {
				t.Errorf("GET %s: %s missing in %s", target, k, w.Body)
			}
		}
		if _, err := time.Parse("2006-01-02T15:04:05Z", got["Expiration"]); err != nil {
			t.Errorf("Expiration %q not in 2006-01-02T15:04:05Z form", got["Expiration"])
		}
	}
	// The body's key order is the documented one.
	w := do(s, "GET", "/", auth())
	if !bytes.HasPrefix(w.Body.Bytes(), []byte(`{"AccessKeyId":"`+testKeyID+`","SecretAccessKey":`)) {
		t.Errorf("body = %s", w.Body)
	}
}

func TestErrors(t *testing.T) {
	s := newTestServer(t, nil)
	tests := []struct {
		name, method, target string
		hdr                  map[string]string
		code                 int
	}{
		{"unknown slot", "GET", "/slot/nope", auth(), 404},
		{"empty slot", "GET", "/slot/", auth(), 404},
		{"unknown route", "GET", "/latest/meta-data/", auth(), 404},
		{"wrong method", "POST", "/", auth(), 404},
		{"imds off by default", "PUT", "/latest/api/token", map[string]string{imdsTTLHeader: "60"}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s, tt.method, tt.target, tt.hdr)
			if w.Code != tt.code {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.target, w.Code, w.Body, tt.code)
			}
			if e := errorOf(t, w); e.Code != "404" {
				t.Errorf("code = %q, want the status as a string", e.Code)
			}
		})
	}
	empty := newTestServer(t, func(o *Options) { o.Source = creds.NewManager(creds.Config{Fetcher: testFetcher}) })
	w := do(empty, "GET", "/", auth())
	if w.Code != 404 || !strings.Contains(errorOf(t, w).Message, "rolecall load") {
		t.Errorf("nothing loaded: %d %s", w.Code, w.Body)
	}
}

func TestHealthzNeedsNoTokenAndRevealsNothing(t *testing.T) {
	s := newTestServer(t, nil)
	w := do(s, "GET", "/healthz", nil)
	if w.Code != 200 || w.Body.String() != `{"status":"ok"}` || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("healthz = %d %q", w.Code, w.Body)
	}
}

// One test per security default; each fails if its check is removed.

func TestTokenRequired(t *testing.T) {
	s := newTestServer(t, nil)
	tests := []struct {
		name string
		hdr  map[string]string
		code int
	}{
		{"missing", nil, 401},
		{"wrong", map[string]string{"Authorization": "not-the-token-at-all-xxxxxxxxxx"}, 403},
		{"prefix of the token", map[string]string{"Authorization": testToken[:20]}, 403},
		{"raw", map[string]string{"Authorization": testToken}, 200},
		{"Bearer", map[string]string{"Authorization": "Bearer " + testToken}, 200},
		{"bearer, any case", map[string]string{"Authorization": "bearer " + testToken}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := do(s, "GET", "/", tt.hdr); w.Code != tt.code {
				t.Fatalf("= %d %s, want %d", w.Code, w.Body, tt.code)
			}
		})
	}
	s.SetToken("rotated-token-bbbbbbbbbbbbbbbbbbbbbbbbbbb")
	if w := do(s, "GET", "/", auth()); w.Code != 403 {
		t.Errorf("old token after rotation = %d", w.Code)
	}
}

func TestHostAllowList(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.Addr = "127.0.0.2:0" })
	for host, code := range map[string]int{
		"127.0.0.1:4144":   200,
		"127.0.0.1":        200,
		"localhost:4144":   200,
		"LOCALHOST":        200,
		"[::1]:4144":       200,
		"127.0.0.2:4144":   200, // the bind host
		"evil.example":     403,
		"127.0.0.1.nip.io": 403,
		"169.254.170.2":    403,
	} {
		w := do(s, "GET", "/", auth("Host", host))
		if w.Code != code {
			t.Errorf("Host %q = %d, want %d", host, w.Code, code)
		}
		if w := do(s, "GET", "/healthz", map[string]string{"Host": host}); code == 403 && w.Code != 403 {
			t.Errorf("healthz with Host %q = %d, want 403", host, w.Code)
		}
	}
}

func TestBrowserRequestsRefused(t *testing.T) {
	s := newTestServer(t, nil)
	for _, h := range []string{"Origin", "Referer", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-Dest"} {
		w := do(s, "GET", "/", auth(h, "x"))
		if w.Code != 403 || !strings.Contains(errorOf(t, w).Message, h) {
			t.Errorf("with %s: %d %s", h, w.Code, w.Body)
		}
	}
}

func TestNonLoopbackBindNeedsTLS(t *testing.T) {
	m := testManager(t)
	for _, addr := range []string{"0.0.0.0:4144", "192.0.2.10:4144", "[::]:4144"} {
		if _, err := New(Options{Source: m, Token: testToken, Addr: addr}); err == nil || !strings.Contains(err.Error(), "TLS") {
			t.Errorf("New(%s) without TLS: err = %v", addr, err)
		}
	}
	cert := selfSigned(t)
	if _, err := New(Options{Source: m, Token: testToken, Addr: "0.0.0.0:4144", Certificate: &cert}); err != nil {
		t.Errorf("with TLS: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:4144", "localhost:4144", "[::1]:4144"} {
		if _, err := New(Options{Source: m, Token: testToken, Addr: addr}); err != nil {
			t.Errorf("loopback %s: %v", addr, err)
		}
	}
}

func TestTokenValidation(t *testing.T) {
	m := testManager(t)
	for _, tok := range []string{"", "short", testToken + "\n", "has space in the middle of it", "tab\tseparated-token-xxxxxx"} {
		if _, err := New(Options{Source: m, Token: tok}); err == nil {
			t.Errorf("token %q accepted", tok)
		}
	}
	tok, err := NewToken()
	if err != nil || len(tok) != 43 || ValidToken(tok) != nil {
		t.Errorf("NewToken = %q, %v: want 43 base64url characters", tok, err)
	}
}

func TestTLSListener(t *testing.T) {
	cert := selfSigned(t)
	// A wildcard bind: HTTPS for clients that come from the network.
	s := newTestServer(t, func(o *Options) { o.Certificate = &cert; o.Addr = "0.0.0.0:0" })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if !s.TLS() || !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("TLS %v, URL = %s", s.TLS(), s.URL())
	}
	port := strconv.Itoa(s.Addr().(*net.TCPAddr).Port)
	get := func(cl *http.Client, url string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", testToken)
		req.Host = "127.0.0.1"
		resp, err := cl.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	// This machine's clients on loopback: plain HTTP, whatever the pair.
	if resp, err := get(http.DefaultClient, "http://127.0.0.1:"+port+"/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("plain HTTP on loopback with a pair set: %v %v", resp, err)
	}
	// Through a non-loopback address of this machine: TLS.
	if ip := nonLoopbackIP(); ip != "" {
		pool := x509.NewCertPool()
		pool.AddCert(cert.Leaf)
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, InsecureSkipVerify: true}}}
		if resp, err := get(cl, "https://"+net.JoinHostPort(ip, port)+"/"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET over TLS at %s: %v %v", ip, resp, err)
		}
	}
}

// TestLoopbackBindStaysPlain: a TLS pair (saved for a bridge address, or
// given on the command line) never turns a loopback listener into HTTPS:
// at start, when the keyring hands the pair over later, or on `tls save`.
func TestLoopbackBindStaysPlain(t *testing.T) {
	cert := selfSigned(t)
	s := newTestServer(t, func(o *Options) { o.Certificate = &cert })
	if s.TLS() || !strings.HasPrefix(s.URL(), "http://127.0.0.1") {
		t.Errorf("loopback with a pair at start: TLS %v, URL %s", s.TLS(), s.URL())
	}
	later := newTestServer(t, nil)
	if later.StartTLS(&cert) || later.TLS() {
		t.Error("StartTLS switched a loopback listener to HTTPS")
	}
	if err := later.SetCertificate(&cert); err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Errorf("SetCertificate on loopback: %v", err)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	req, _ := http.NewRequest("GET", s.URL(), nil)
	req.Header.Set("Authorization", testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("plain GET on loopback = %d", resp.StatusCode)
	}
}

// nonLoopbackIP is an address of this machine that is not loopback, or "".
func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

func TestIMDS(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newTestServer(t, func(o *Options) { o.IMDS = true; o.Now = clock; o.Region = "eu-west-1" })

	if w := do(s, "PUT", "/latest/api/token", nil); w.Code != 400 {
		t.Errorf("token without TTL = %d", w.Code)
	}
	if w := do(s, "PUT", "/latest/api/token", map[string]string{imdsTTLHeader: "99999"}); w.Code != 400 {
		t.Errorf("token with TTL 99999 = %d", w.Code)
	}
	w := do(s, "PUT", "/latest/api/token", map[string]string{imdsTTLHeader: "60"})
	if w.Code != 200 || w.Header().Get(imdsTTLHeader) != "60" {
		t.Fatalf("token = %d, TTL header %q", w.Code, w.Header().Get(imdsTTLHeader))
	}
	tok := w.Body.String()
	h := map[string]string{imdsTokenHeader: tok}

	w = do(s, "GET", "/latest/meta-data/iam/security-credentials/", h)
	if w.Code != 200 || w.Body.String() != "dev" {
		t.Fatalf("role list = %d %q", w.Code, w.Body)
	}
	w = do(s, "GET", "/latest/meta-data/iam/security-credentials/dev", h)
	var body map[string]string
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 200 || body["Code"] != "Success" || body["Type"] != "AWS-HMAC" || body["LastUpdated"] == "" || body["AccessKeyId"] != testKeyID {
		t.Fatalf("credentials = %d %s", w.Code, w.Body)
	}
	w = do(s, "GET", "/latest/meta-data/iam/security-credentials/Acme%20Corp+Admin", h)
	if w.Code != 200 {
		t.Errorf("named slot through IMDS = %d %s", w.Code, w.Body)
	}
	for _, p := range []string{"/latest/meta-data/iam/info", "/latest/dynamic/instance-identity/document"} {
		if w := do(s, "GET", p, h); w.Code != 200 {
			t.Errorf("%s = %d %s", p, w.Code, w.Body)
		}
	}

	// IMDSv1 refused; tampered and expired tokens refused.
	if w := do(s, "GET", "/latest/meta-data/iam/security-credentials/dev", nil); w.Code != 401 {
		t.Errorf("IMDSv1 = %d, want 401", w.Code)
	}
	bad := []byte(tok)
	bad[len(bad)-2] ^= 1
	if w := do(s, "GET", "/latest/meta-data/iam/security-credentials/dev", map[string]string{imdsTokenHeader: string(bad)}); w.Code != 401 {
		t.Errorf("tampered token = %d, want 401", w.Code)
	}
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if w := do(s, "GET", "/latest/meta-data/iam/security-credentials/dev", h); w.Code != 401 {
		t.Errorf("expired token = %d, want 401", w.Code)
	}

	v1 := newTestServer(t, func(o *Options) { o.IMDS = true; o.IMDSv1 = true })
	if w := do(v1, "GET", "/latest/meta-data/iam/security-credentials/dev", nil); w.Code != 200 {
		t.Errorf("IMDSv1 allowed = %d", w.Code)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	failing := creds.NewManager(creds.Config{Fetcher: testFetcher, Logger: log})
	defer failing.Close()
	failing.Load(context.Background(), creds.DefaultSlot, creds.Profile{Name: "dev"})
	failing.Load(context.Background(), "x", creds.Profile{Name: "missing"})
	s := newTestServer(t, func(o *Options) { o.Source = failing; o.Logger = log; o.IMDS = true })
	do(s, "GET", "/", auth())
	do(s, "GET", "/", map[string]string{"Authorization": "wrong-token-that-is-long-enough"})
	do(s, "GET", "/slot/x", auth())
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, secret := range []string{testToken, testSecret, testSess, testKeyID} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a secret %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "ASIA…MPLE") {
		t.Errorf("log does not show the masked key id:\n%s", out)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// otherUserRig skips (or fails under ROLECALL_REQUIRE_ALL) a test that
// runs a client as another user where it cannot, and returns setpriv.
func otherUserRig(t *testing.T) string {
	t.Helper()
	desktoptest.LinuxOnly(t, "the same-user check (peer lookup by socket)")
	desktoptest.SkipShort(t, "runs a client as another user")
	if os.Getuid() != 0 {
		skipOrFail(t, t.Name()+" needs root to run a client as another user: sudo go test -run "+t.Name()+" ./server")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		skipOrFail(t, "setpriv is missing: sudo apt-get install util-linux")
	}
	return setpriv
}

// TestOtherUserRefused connects from a process of another user (nobody)
// and expects 403; it needs root to become that user.
func TestOtherUserRefused(t *testing.T) {
	setpriv := otherUserRig(t)
	s := newTestServer(t, func(o *Options) { o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_, port, _ := net.SplitHostPort(s.Addr().String())
	// The refused client asks to keep the connection; the server closes
	// it after its one answer (timeout only bounds a failure).
	request := `exec 3<>/dev/tcp/127.0.0.1/` + port + `; printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ` + testToken + `\r\n%b\r\n' "$0" >&3; timeout 10 cat <&3`
	out, err := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/bash", "-c", request, "").CombinedOutput()
	if err != nil {
		t.Fatalf("client as nobody: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "HTTP/1.1 403") || !strings.Contains(string(out), "another user") || !strings.Contains(string(out), "Connection: close") {
		t.Fatalf("request from another user answered:\n%s", out)
	}
	script := strings.Replace(request, `"$0"`, `'Connection: close\r\n'`, 1)
	// The same request from our own user is served.
	out, err = exec.Command("/bin/bash", "-c", script).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "HTTP/1.1 200") {
		t.Fatalf("request from our own user: %v\n%s", err, out)
	}
}

func TestPeerLookupOwnConnection(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for _, network := range []string{"tcp4"} {
		c, err := net.Dial(network, s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		uid, inode, err := peerSocket(c.RemoteAddr().(*net.TCPAddr), c.LocalAddr().(*net.TCPAddr))
		c.Close()
		if errors.Is(err, errPeerUnsupported) {
			t.Skip("no peer lookup on this system")
		}
		if err != nil || uid != os.Getuid() || inode == 0 {
			t.Fatalf("peerSocket = uid %d inode %d, %v", uid, inode, err)
		}
	}
}

func TestAuditCoalescesAndMasks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAudit(path, AuditOptions{Every: time.Hour, Prompt: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, func(o *Options) { o.Audit = a; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{}
	for range 25 {
		req, _ := http.NewRequest("GET", s.URL(), nil)
		req.Header.Set("Authorization", testToken)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	s.Close(context.Background())
	a.Close()
	entries, err := ReadAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("entries = %+v, want one line for 25 hand-outs on one connection", entries)
	}
	e := entries[0]
	if e.Count != 25 || e.Slot != "default" || e.KeyID != "ASIA…MPLE" || e.RoleARN == "" {
		t.Errorf("entry = %+v", e)
	}
	if e.PID != os.Getpid() && e.PID != 0 {
		t.Errorf("pid = %d, want ours (%d)", e.PID, os.Getpid())
	}
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(testKeyID)) || bytes.Contains(b, []byte(testSecret)) {
		t.Error("audit log holds a secret")
	}
	// Mode 0600 on Unix, a current-user-only ACL on Windows.
	if err := private.Check(path); err != nil {
		t.Errorf("audit log: %v", err)
	}
}

// TestAuditLineWhileConnectionOpen: a hand-out reaches the file within
// Prompt, not at the end of the coalescing window, so tail -f follows the
// log as clients ask.
func TestAuditLineWhileConnectionOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAudit(path, AuditOptions{Every: time.Hour, Prompt: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := newTestServer(t, func(o *Options) { o.Audit = a; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	cl := &http.Client{}
	req, _ := http.NewRequest("GET", s.URL(), nil)
	req.Header.Set("Authorization", testToken)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The connection stays open (kept alive) and the window is an hour:
	// only the prompt write can put the line there.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		entries, err := ReadAudit(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 1 && entries[0].Count == 1 {
			return
		}
		if len(entries) > 1 || time.Now().After(deadline) {
			t.Fatalf("entries %+v: want the one hand-out written while the connection is open", entries)
		}
	}
}

func TestAuditRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	a, err := OpenAudit(path, AuditOptions{MaxBytes: 300, Keep: 2, Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		a.write(&AuditEntry{Time: time.Now(), Count: 1, Slot: strings.Repeat("s", i+1)})
	}
	a.Close()
	for _, p := range []string{path, path + ".1", path + ".2"} {
		if st, err := os.Stat(p); err != nil || st.Size() > 300 {
			t.Errorf("%s: %v (size %d)", p, err, st.Size())
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("more rotated files than kept")
	}
}

func FuzzHandler(f *testing.F) {
	f.Add("GET", "/", "Bearer x", "127.0.0.1", "")
	f.Add("GET", "/slot/a%2Fb", testToken, "localhost:1", "")
	f.Add("PUT", "/latest/api/token", "", "[::1]", "21600")
	f.Add("GET", "/latest/meta-data/iam/security-credentials/dev", "", "127.0.0.1", "1")
	f.Add("GET", "/slot/%zz", testToken, "127.0.0.1", "")
	f.Add("GET", "/v2/credentials/x", "", "127.0.0.1", "")
	f.Add("GET", "/v2/credentials/", testToken, "169.254.170.2", "")
	store, err := grants.Open(f.TempDir(), grants.Options{})
	if err != nil {
		f.Fatal(err)
	}
	_, secret, _ := store.Add("fuzz", "Acme Corp/Admin", 0)
	f.Add("GET", "/slot/Acme%20Corp%2FAdmin", secret, "127.0.0.1", "")
	f.Add("GET", "/v2/credentials/"+secret, "", "127.0.0.1", "")
	s := newTestServer(f, func(o *Options) { o.IMDS = true; o.Grants = store })
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, target, authz, host, ttl string) {
		r, err := http.NewRequest(method, "http://x"+target, nil)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		r.Host = host
		r.Header.Set("Authorization", authz)
		r.Header.Set(imdsTTLHeader, ttl)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == 200 {
			return
		}
		if w.Code >= 300 && w.Code < 400 {
			return // ServeMux path cleaning redirect
		}
		var e errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
			t.Fatalf("%s %q: status %d, body %q is not a JSON error", method, target, w.Code, w.Body)
		}
		if w.Code == 200 && host != "127.0.0.1" && host != "localhost" {
			t.Fatalf("served with Host %q", host)
		}
	})
}

// skipOrFail skips, or fails when ROLECALL_REQUIRE_ALL is set (CI).
var skipOrFail = desktoptest.SkipOrFail

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rolecall test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	c, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
