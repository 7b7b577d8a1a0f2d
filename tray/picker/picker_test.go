package picker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// fakeRoles is 300 accounts of four roles, with what was done to them.
type fakeRoles struct {
	mu      sync.Mutex
	loaded  string
	stars   map[string]bool
	actions []string
}

func (f *fakeRoles) options() Options {
	return Options{
		Roles: func() []Role {
			f.mu.Lock()
			defer f.mu.Unlock()
			var rs []Role
			for a := range 300 {
				for _, r := range []string{"Admin", "ReadOnly", "Deploy", "Billing"} {
					name := fmt.Sprintf("acct-%03d/%s", a, r)
					rs = append(rs, Role{Name: name, Label: fmt.Sprintf("%s — %012d", name, 100000000000+a),
						Loaded: name == f.loaded, Favorite: f.stars[name]})
				}
			}
			return rs
		},
		Load:     func(n string) error { return f.do("load "+n, func() { f.loaded = n }) },
		LoadSlot: func(n string) error { return f.do("slot "+n, nil) },
		Favorite: func(n string, on bool) error {
			return f.do(fmt.Sprintf("favorite %s %t", n, on), func() { f.stars[n] = on })
		},
	}
}

func (f *fakeRoles) do(what string, change func()) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, what)
	if change != nil {
		change()
	}
	return nil
}

func (f *fakeRoles) done() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.actions)
}

func start(t *testing.T, f *fakeRoles) *Server {
	s, err := Start(f.options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// session opens a one-time link and returns a client that has the cookie.
func session(t *testing.T, s *Server) (*http.Client, string) {
	link := s.Link()
	jar := &cookieJar{}
	c := &http.Client{Jar: jar}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/open" {
		t.Fatalf("one-time link: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// The page then moves to / (a same-origin navigation).
	origin := "http://" + resp.Request.URL.Host
	resp, err = c.Get(origin + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the picker after its link: %d", resp.StatusCode)
	}
	return c, origin
}

// cookieJar keeps one cookie, whatever its host.
type cookieJar struct {
	mu sync.Mutex
	c  []*http.Cookie
}

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	j.c = append(j.c, cs...)
	j.mu.Unlock()
}
func (j *cookieJar) Cookies(*url.URL) []*http.Cookie { j.mu.Lock(); defer j.mu.Unlock(); return j.c }

func TestGuards(t *testing.T) {
	f := &fakeRoles{stars: map[string]bool{}}
	s := start(t, f)
	link := s.Link()
	origin := strings.Split(link, "/open")[0]
	c, _ := session(t, s)
	post := func(c *http.Client, host, origin, ctype, body string) int {
		req, _ := http.NewRequest("POST", origin+"/api/load", strings.NewReader(body))
		if host != "" {
			req.Host = host
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.Header.Set("Origin", origin)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("CORS header %s", k)
			}
		}
		return resp.StatusCode
	}
	body := `{"name":"acct-001/Admin"}`
	u, _ := url.Parse(origin)
	for _, tt := range []struct {
		name string
		got  func() int
		want int
	}{
		{"the page's own request", func() int { return post(c, "", origin, "application/json", body) }, 200},
		{"no cookie", func() int { return post(http.DefaultClient, "", origin, "application/json", body) }, 403},
		{"another origin", func() int {
			req, _ := http.NewRequest("POST", origin+"/api/load", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", "http://127.0.0.1:1")
			resp, _ := c.Do(req)
			resp.Body.Close()
			return resp.StatusCode
		}, 403},
		{"a form post (not JSON)", func() int { return post(c, "", origin, "text/plain", body) }, 403},
		{"a wrong Host (DNS rebinding)", func() int { return post(c, "evil.example:"+u.Port(), origin, "application/json", body) }, 421},
		{"the used link again", func() int {
			first, err := http.Get(link)
			if err != nil {
				t.Fatal(err)
			}
			first.Body.Close()
			if first.StatusCode != 200 {
				t.Errorf("the link's first use: %d", first.StatusCode)
			}
			resp, err := http.Get(link)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}, 403},
		{"a made-up link", func() int {
			resp, _ := http.Get(origin + "/open?t=guess")
			resp.Body.Close()
			return resp.StatusCode
		}, 403},
		{"the page without a cookie", func() int {
			resp, _ := http.Get(origin + "/")
			resp.Body.Close()
			return resp.StatusCode
		}, 403},
	} {
		if got := tt.got(); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := f.done(); !slices.Equal(got, []string{"load acct-001/Admin"}) {
		t.Errorf("actions %q, want only the page's own", got)
	}
}

func TestLinkExpires(t *testing.T) {
	f := &fakeRoles{stars: map[string]bool{}}
	clock := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	opts := f.options()
	opts.Now = func() time.Time { return clock }
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	link := s.Link()
	clock = clock.Add(3 * time.Minute)
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("an expired link: %d", resp.StatusCode)
	}
}

// TestInChromium drives Debian's chromium with playwright-core from the
// tray's private file (the path a desktop takes): search, switch, star; the
// link works once; another origin's page and a browser without the cookie
// are refused; after rolecall stops, the page says it expired.
func TestInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		desktoptest.SkipOrFail(t, "chromium is missing: apt-get install chromium")
	}
	if _, err := exec.LookPath("node"); err != nil {
		desktoptest.SkipOrFail(t, "node is missing: apt-get install nodejs npm")
	}
	if _, err := os.Stat("testdata/node_modules/playwright-core"); err != nil {
		desktoptest.SkipOrFail(t, "playwright-core is missing: cd tray/picker/testdata && npm ci")
	}
	f := &fakeRoles{stars: map[string]bool{}}
	s := start(t, f)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>another page</title>")
	}))
	defer other.Close()
	stop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.Close() }))
	defer stop.Close()
	file := filepath.Join(t.TempDir(), "find-a-role.html")
	link := s.Link()
	if err := os.WriteFile(file, forwardPage(link), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join("testdata", "browser.mjs"), "file://"+file, link, other.URL, stop.URL)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "HOME="+t.TempDir())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("browser: %v\n%s", err, out)
	}
	var got struct {
		URL, CookieVisible  string
		Expired             string
		Total               int
		Found, Loaded       []string
		Starred             bool
		LinkAgain, NoCookie int
		CrossOrigin         map[string]any
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("browser said %s: %v", out, err)
	}
	t.Logf("browser: %s", out)
	want := []string{}
	for a := 120; a < 130; a++ { // "acct-12" and "deploy", in any place of the label
		want = append(want, fmt.Sprintf("acct-%03d/Deploy — %012d", a, 100000000000+a))
	}
	switch {
	case !strings.HasSuffix(got.URL, "/") || strings.Contains(got.URL, "t="):
		t.Errorf("after the link the page is at %s", got.URL)
	case got.Total != 50:
		t.Errorf("%d roles listed before a search, want the first 50", got.Total)
	case !slices.Equal(got.Found, want):
		t.Errorf("search found %q", got.Found)
	case !slices.Equal(got.Loaded, want[:1]) || !got.Starred:
		t.Errorf("loaded %q, starred %t", got.Loaded, got.Starred)
	case got.CookieVisible != "":
		t.Errorf("the page can read the cookie: %q", got.CookieVisible)
	case got.LinkAgain != 403 || got.NoCookie != 403:
		t.Errorf("link again: %d, no cookie: %d", got.LinkAgain, got.NoCookie)
	case got.Expired != Say(Expired):
		t.Errorf("after a restart the page says %q, want %q", got.Expired, Say(Expired))
	}
	for k, v := range got.CrossOrigin { // the browser refuses, or the picker does (actions below)
		if v == float64(200) {
			t.Errorf("cross-origin %s request answered 200", k)
		}
	}
	if acts := f.done(); !slices.Equal(acts, []string{"load acct-120/Deploy", "favorite acct-120/Deploy true"}) {
		t.Errorf("actions %q, want the switch and the star only", acts)
	}
}

func TestAcceptRefusesConnection(t *testing.T) {
	f := &fakeRoles{stars: map[string]bool{}}
	opts := f.options()
	var asked []string
	var mu sync.Mutex
	opts.Accept = func(local, remote net.Addr) error {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, remote.String())
		return errors.New("connection from a process of another user (uid 65534) refused")
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Even a valid one-time link is refused on a refused connection.
	resp, err := http.Get(s.Link())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "another user") {
		t.Errorf("refused connection: %d %q", resp.StatusCode, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 {
		t.Errorf("Accept asked %d times for one connection", len(asked))
	}
}

func TestSessionExpires(t *testing.T) {
	f := &fakeRoles{stars: map[string]bool{}}
	var mu sync.Mutex
	clock := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	opts := f.options()
	opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	opts.SessionTTL = time.Hour
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, origin := session(t, s)
	get := func() int {
		resp, err := c.Get(origin + "/api/roles")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("fresh session: %d", code)
	}
	mu.Lock()
	clock = clock.Add(61 * time.Minute)
	mu.Unlock()
	if code := get(); code != 403 {
		t.Errorf("session after its hour: %d, want 403", code)
	}
}
