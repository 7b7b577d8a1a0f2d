package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/grants"
)

// grantClock is the grants' clock, moved by the test.
type grantClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *grantClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *grantClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingNames resolves any name but "missing" and counts the calls: a
// grant must never make the listener load another name.
type countingNames struct{ calls atomic.Int32 }

func (n *countingNames) ResolveSlot(_ context.Context, name string) (creds.Profile, error) {
	n.calls.Add(1)
	return creds.Profile{Name: name}, nil
}

// grantRig is a listener with the test manager (dev in the default slot,
// "Acme Corp/Admin" named), named slots on demand, and a grants store
// with "ide" reading "Acme Corp/Admin" and "agent" reading the unloaded
// "ops".
type grantRig struct {
	s          *Server
	store      *grants.Store
	clock      *grantClock
	names      *countingNames
	ide, agent string // secrets
	manager    *creds.Manager
	audit      *Audit
	auditPath  string
	auditOnce  sync.Once
}

func (rig *grantRig) closeAudit() { rig.auditOnce.Do(func() { rig.audit.Close() }) }

func newGrantRig(t *testing.T) *grantRig {
	t.Helper()
	rig := &grantRig{clock: &grantClock{t: time.Now()}, names: &countingNames{}}
	rig.manager = creds.NewManager(creds.Config{Fetcher: testFetcher, Resolver: rig.names})
	t.Cleanup(func() { rig.manager.Close() })
	ctx := context.Background()
	if _, err := rig.manager.Load(ctx, creds.DefaultSlot, creds.Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rig.manager.Load(ctx, "Acme Corp/Admin", creds.Profile{Name: "Acme Corp/Admin"}); err != nil {
		t.Fatal(err)
	}
	var err error
	if rig.store, err = grants.Open(t.TempDir(), grants.Options{Now: rig.clock.now}); err != nil {
		t.Fatal(err)
	}
	if _, rig.ide, err = rig.store.Add("ide", "Acme Corp/Admin", 0); err != nil {
		t.Fatal(err)
	}
	if _, rig.agent, err = rig.store.Add("agent", "ops", time.Hour); err != nil {
		t.Fatal(err)
	}
	rig.auditPath = filepath.Join(t.TempDir(), "audit.log")
	if rig.audit, err = OpenAudit(rig.auditPath, AuditOptions{Every: time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rig.closeAudit)
	rig.s = newTestServer(t, func(o *Options) { o.Source = rig.manager; o.Grants = rig.store; o.Audit = rig.audit })
	return rig
}

func TestGrantReadsItsSlotOnly(t *testing.T) {
	rig := newGrantRig(t)
	s := rig.s
	for _, hdr := range []string{rig.ide, "Bearer " + rig.ide} {
		w := do(s, "GET", "/slot/Acme%20Corp%2FAdmin", map[string]string{"Authorization": hdr})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"RoleArn":"arn:aws:iam::111122223333:role/Acme Corp/Admin"`) {
			t.Fatalf("grant on its slot: %d %s", w.Code, w.Body)
		}
	}
	// Its ID at the ECS agent's route, without a token.
	w := do(s, "GET", "/v2/credentials/"+rig.ide, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `role/Acme Corp/Admin"`) || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("/v2/credentials/<id>: %d %s", w.Code, w.Body)
	}
	var body map[string]string
	json.Unmarshal(w.Body.Bytes(), &body)
	for _, k := range []string{"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "RoleArn", "AccountId"} {
		if body[k] == "" {
			t.Errorf("%s missing in %s", k, w.Body)
		}
	}

	// Everything else with the grant's secret is refused, and asks the
	// manager for nothing (no on-demand load of another name).
	for _, tc := range []struct{ target, want string }{
		{"/", "not the default slot"},
		{"/slot/dev", `not slot "dev"`},
		{"/slot/prod-admin", `not slot "prod-admin"`},
		{"/slot/ops", `not slot "ops"`},
		{"/slot/", "not the default slot"},
	} {
		w := do(s, "GET", tc.target, map[string]string{"Authorization": rig.ide})
		if w.Code != 403 || !strings.Contains(errorOf(t, w).Message, tc.want) || !strings.Contains(w.Body.String(), "rolecall grant add") {
			t.Errorf("grant on %s: %d %s", tc.target, w.Code, w.Body)
		}
	}
	if n := rig.names.calls.Load(); n != 0 {
		t.Errorf("the grant's refused requests resolved %d names", n)
	}
	if _, ok := rig.manager.Lookup("prod-admin"); ok {
		t.Error("a grant loaded another name")
	}
	// The user's token keeps its power: /slot/prod-admin loads on demand.
	if w := do(s, "GET", "/slot/prod-admin", auth()); w.Code != 200 {
		t.Errorf("user's token on demand: %d %s", w.Code, w.Body)
	}
	// Another's secret, a mistyped one and the ID route with a token only.
	for _, tc := range []struct {
		target string
		hdr    map[string]string
		want   string
	}{
		{"/slot/ops", map[string]string{"Authorization": rig.ide[:42] + "x"}, "wrong authorization token"},
		{"/v2/credentials/" + rig.ide[:42] + "x", nil, "no grant has this secret or credential ID"},
		{"/v2/credentials/", auth(), "no grant has this secret or credential ID"},
		{"/v2/credentials/" + testToken, nil, "no grant has this secret or credential ID"},
	} {
		w := do(s, "GET", tc.target, tc.hdr)
		if w.Code != 403 || !strings.Contains(errorOf(t, w).Message, tc.want) {
			t.Errorf("GET %s: %d %s", tc.target, w.Code, w.Body)
		}
	}
}

// TestGrantLoadsItsSlot: the first request of a grant whose slot is not
// loaded loads it, also with named slots on demand off (Names only).
func TestGrantLoadsItsSlot(t *testing.T) {
	rig := newGrantRig(t)
	names := &countingNames{}
	m := creds.NewManager(creds.Config{Fetcher: testFetcher, Names: names})
	t.Cleanup(func() { m.Close() })
	s := newTestServer(t, func(o *Options) { o.Source = m; o.Grants = rig.store })
	if w := do(s, "GET", "/slot/ops", auth()); w.Code != 404 {
		t.Fatalf("user's token with on-demand off: %d %s", w.Code, w.Body)
	}
	w := do(s, "GET", "/v2/credentials/"+rig.agent, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "role/ops") {
		t.Fatalf("grant's first request: %d %s", w.Code, w.Body)
	}
	if _, ok := m.Lookup("ops"); !ok || names.calls.Load() != 1 {
		t.Errorf("slot ops loaded %v after %d resolves", ok, names.calls.Load())
	}
}

func TestGrantRevokedAndExpired(t *testing.T) {
	rig := newGrantRig(t)
	s := rig.s
	if w := do(s, "GET", "/slot/ops", map[string]string{"Authorization": rig.agent}); w.Code != 200 {
		t.Fatalf("before: %d %s", w.Code, w.Body)
	}
	rig.clock.add(time.Hour)
	for _, target := range []string{"/slot/ops", "/v2/credentials/" + rig.agent} {
		w := do(s, "GET", target, map[string]string{"Authorization": rig.agent})
		msg := errorOf(t, w).Message
		if w.Code != 403 || !strings.Contains(msg, `grant "agent" expired at`) || !strings.Contains(msg, "rolecall grant add agent --profile ops") {
			t.Errorf("expired, GET %s: %d %s", target, w.Code, w.Body)
		}
	}
	if _, err := rig.store.Revoke("ide"); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/slot/Acme%20Corp%2FAdmin", "/v2/credentials/" + rig.ide} {
		w := do(s, "GET", target, map[string]string{"Authorization": rig.ide})
		msg := errorOf(t, w).Message
		if w.Code != 403 || !strings.Contains(msg, `grant "ide" was revoked`) || !strings.Contains(msg, "rolecall grant add ide --profile Acme Corp/Admin") {
			t.Errorf("revoked, GET %s: %d %s", target, w.Code, w.Body)
		}
	}
}

// TestGrantAuditAndUse: every hand-out to a grant is audited with its
// name and counted in its list entry.
func TestGrantAuditAndUse(t *testing.T) {
	rig := newGrantRig(t)
	for range 3 {
		if w := do(rig.s, "GET", "/v2/credentials/"+rig.ide, nil); w.Code != 200 {
			t.Fatal(w.Code, w.Body)
		}
	}
	if w := do(rig.s, "GET", "/slot/Acme%20Corp%2FAdmin", auth()); w.Code != 200 {
		t.Fatal(w.Code, w.Body)
	}
	rig.closeAudit()
	entries, err := ReadAudit(rig.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var granted, own int64
	for _, e := range entries {
		switch e.Grant {
		case "ide":
			granted += e.Count
		case "":
			own += e.Count
		default:
			t.Errorf("entry of grant %q", e.Grant)
		}
	}
	if granted != 3 || own != 1 {
		t.Errorf("audit: %d hand-outs to grant ide, %d to the user's token: %+v", granted, own, entries)
	}
	for _, g := range rig.store.List() {
		if g.Name == "ide" && (g.Uses != 3 || g.LastUsed.IsZero()) {
			t.Errorf("ide listed as %+v", g)
		}
	}
}

// containerRequest is a request as if it came through the host set-up's
// DNAT: from a container's address to the loopback listener.
func containerRequest(method, target, host string, hdr map[string]string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4144}
	remote := &net.TCPAddr{IP: net.IPv4(10, 231, 78, 2), Port: 40000}
	ci := &connInfo{local: local, remote: remote, uid: -1, container: fromContainer(local, remote), client: "container 10.231.78.2"}
	return r.WithContext(context.WithValue(r.Context(), connKey{}, ci))
}

func TestContainerConnections(t *testing.T) {
	rig := newGrantRig(t)
	h := rig.s.Handler()
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, host := range []string{"169.254.170.2", "169.254.170.2:80"} {
		w := serve(containerRequest("GET", "/v2/credentials/"+rig.ide, host, nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), "role/Acme Corp/Admin") {
			t.Fatalf("container, Host %s: %d %s", host, w.Code, w.Body)
		}
	}
	for _, g := range rig.store.List() {
		if g.Name == "ide" && g.From != "container 10.231.78.2" {
			t.Errorf("ide used from %q", g.From)
		}
	}
	for _, tc := range []struct {
		name, method, target, host string
		hdr                        map[string]string
		want                       string
	}{
		{"default slot with the user's token", "GET", "/", "169.254.170.2", auth(), "only GET /v2/credentials/<ID>"},
		{"named slot with the user's token", "GET", "/slot/dev", "169.254.170.2", auth(), "only GET /v2/credentials/<ID>"},
		{"named slot with the grant", "GET", "/slot/Acme%20Corp%2FAdmin", "169.254.170.2", map[string]string{"Authorization": rig.ide}, "only GET /v2/credentials/<ID>"},
		{"healthz", "GET", "/healthz", "169.254.170.2", nil, "only GET /v2/credentials/<ID>"},
		{"imds", "PUT", "/latest/api/token", "169.254.170.2", nil, "only GET /v2/credentials/<ID>"},
		{"wrong id", "GET", "/v2/credentials/" + strings.Repeat("A", 43), "169.254.170.2", nil, "no grant has this"},
		{"token as id", "GET", "/v2/credentials/" + testToken, "169.254.170.2", nil, "no grant has this"},
		{"loopback Host from a container", "GET", "/v2/credentials/" + rig.ide, "127.0.0.1:4144", nil, "not allowed from a container"},
		{"rebound name", "GET", "/v2/credentials/" + rig.ide, "evil.example:80", nil, "not allowed from a container"},
		{"other port", "GET", "/v2/credentials/" + rig.ide, "169.254.170.2:8080", nil, "not allowed from a container"},
		{"browser", "GET", "/v2/credentials/" + rig.ide, "169.254.170.2", map[string]string{"Origin": "http://169.254.170.2"}, "browser header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(containerRequest(tc.method, tc.target, tc.host, tc.hdr))
			if w.Code != 403 || !strings.Contains(errorOf(t, w).Message, tc.want) {
				t.Errorf("%d %s, want 403 with %q", w.Code, w.Body, tc.want)
			}
		})
	}
	// From loopback, 169.254.170.2 is not a Host of ours.
	if w := do(rig.s, "GET", "/v2/credentials/"+rig.ide, map[string]string{"Host": "169.254.170.2"}); w.Code != 403 {
		t.Errorf("Host 169.254.170.2 from loopback: %d %s", w.Code, w.Body)
	}
	if _, err := rig.store.Revoke("ide"); err != nil {
		t.Fatal(err)
	}
	w := serve(containerRequest("GET", "/v2/credentials/"+rig.ide, "169.254.170.2", nil))
	if w.Code != 403 || !strings.Contains(errorOf(t, w).Message, "revoked") {
		t.Errorf("revoked from a container: %d %s", w.Code, w.Body)
	}
}

// TestGrantOtherUserRefused: a grant's secret does not open the listener
// to another local user (nobody): the ID route and its slot are refused
// on the peer check, as the user's token is.
func TestGrantOtherUserRefused(t *testing.T) {
	setpriv := otherUserRig(t)
	rig := newGrantRig(t)
	s := newTestServer(t, func(o *Options) { o.Source = rig.manager; o.Grants = rig.store; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_, port, _ := net.SplitHostPort(s.Addr().String())
	for _, req := range []string{
		"GET /v2/credentials/" + rig.ide + ` HTTP/1.1\r\nHost: 127.0.0.1\r\n`,
		"GET /slot/Acme%20Corp%2FAdmin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + rig.ide + `\r\n`,
		"GET /v2/credentials/" + rig.ide + ` HTTP/1.1\r\nHost: 169.254.170.2\r\n`,
	} {
		// The request, the grant's secret in it, goes in on stdin: never
		// on a command line.
		script := `exec 3<>/dev/tcp/127.0.0.1/` + port + `; printf '%b' "$(cat)" >&3; timeout 10 cat <&3`
		req += `Connection: close\r\n\r\n`
		nobody := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/bash", "-c", script)
		nobody.Stdin = strings.NewReader(req)
		out, err := nobody.CombinedOutput()
		if err != nil {
			t.Fatalf("client as nobody: %v\n%s", err, out)
		}
		if !strings.HasPrefix(string(out), "HTTP/1.1 403") || !strings.Contains(string(out), "another user") {
			t.Errorf("grant's request from another user answered:\n%s", out)
		}
		// The same request from our own user: served, or refused for its Host only.
		self := exec.Command("/bin/bash", "-c", script)
		self.Stdin = strings.NewReader(req)
		own, err := self.CombinedOutput()
		if err != nil {
			t.Fatalf("own user: %v\n%s", err, own)
		}
		if strings.Contains(req, "169.254") != strings.HasPrefix(string(own), "HTTP/1.1 403") {
			t.Errorf("grant's request from our own user answered:\n%s", own)
		}
	}
	for _, g := range rig.store.List() {
		if g.Name == "ide" && g.Uses != 2 {
			t.Errorf("ide used %d times, want 2 (our own user's requests only)", g.Uses)
		}
	}
}

// grantBench is a manager with "dev" loaded and a store with nine grants
// on it; secret is the last one's.
func grantBench(b *testing.B) (*creds.Manager, *grants.Store, string) {
	m := creds.NewManager(creds.Config{Fetcher: testFetcher})
	b.Cleanup(func() { m.Close() })
	if _, err := m.Load(context.Background(), "dev", creds.Profile{Name: "dev"}); err != nil {
		b.Fatal(err)
	}
	store, err := grants.Open(b.TempDir(), grants.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		store.Add("other-"+n, "dev", 0)
	}
	_, secret, err := store.Add("bench", "dev", 0)
	if err != nil {
		b.Fatal(err)
	}
	return m, store, secret
}

// BenchmarkGrant compares one credential GET with the user's token and
// with a grant's secret (as the token, and as the ECS credential ID),
// without a network: guards, authorization, lookup, cached body, audit
// off.
func BenchmarkGrant(b *testing.B) {
	m, store, secret := grantBench(b)
	s := newTestServer(b, func(o *Options) { o.Source = m; o.Grants = store })
	h := s.Handler()
	for _, tc := range []struct{ name, target, auth string }{
		{"token", "/slot/dev", testToken},
		{"grant", "/slot/dev", secret},
		{"grant-id", "/v2/credentials/" + secret, ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", tc.target, nil)
				r.Host = "127.0.0.1:4144"
				if tc.auth != "" {
					r.Header.Set("Authorization", tc.auth)
				}
				for pb.Next() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		})
	}
}

// BenchmarkGrantLoopback is BenchmarkGrant over keep-alive loopback
// connections, with the peer check and the audit log on: the whole
// request as a client sees it.
func BenchmarkGrantLoopback(b *testing.B) {
	m, store, secret := grantBench(b)
	a, err := OpenAudit(filepath.Join(b.TempDir(), "audit.log"), AuditOptions{Every: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	s := newTestServer(b, func(o *Options) { o.Source = m; o.Grants = store; o.Audit = a; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, tc := range []struct{ name, path, auth string }{
		{"token", "slot/dev", testToken},
		{"grant", "slot/dev", secret},
		{"grant-id", "v2/credentials/" + secret, ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest("GET", s.URL()+tc.path, nil)
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				for pb.Next() {
					resp, err := cl.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
		})
	}
}
