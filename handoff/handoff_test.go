package handoff

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolecall/rolecall/private"
)

// secretURL is a console sign-in URL as AWS answers it: whoever opens it
// is signed in as the role (the token is obviously fake).
const secretURL = "https://signin.aws.amazon.com/federation?Action=login&Destination=https%3A%2F%2Fconsole.aws.amazon.com%2F&SigninToken=FAKE-SIGNIN-TOKEN-EXAMPLE-0123456789"

// noFollow is a client that shows redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// linkIn reads the one-time loopback link out of the forwarding page that
// a file:// target names, as the browser does.
func linkIn(t *testing.T, target string) (page, link string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("launcher target %q: not a file:// URL", target)
	}
	b, err := os.ReadFile(FilePath(u))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/go/[A-Za-z0-9_-]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no loopback link in the page: %s", b)
	}
	return FilePath(u), string(m[1])
}

func get(t *testing.T, link string) *http.Response {
	t.Helper()
	resp, err := noFollow.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func newServer(t *testing.T, mod func(*Options)) (*Server, chan string) {
	t.Helper()
	launched := make(chan string, 4)
	o := Options{Dir: t.TempDir(), WriteFile: private.WriteFile,
		Launch: func(target string) error { launched <- target; return nil }}
	if mod != nil {
		mod(&o)
	}
	s := New(o)
	t.Cleanup(func() { s.Close() })
	return s, launched
}

// TestOpenHandsOffOnce: the launcher gets a file:// URL naming a 0600 page
// (no secret in it); the page's loopback link answers once, with a
// redirect to the secret URL; then it is gone, and so is the page.
func TestOpenHandsOffOnce(t *testing.T) {
	s, launched := newServer(t, nil)
	if err := s.Open(secretURL); err != nil {
		t.Fatal(err)
	}
	target := <-launched
	if strings.Contains(target, "SigninToken") || strings.Contains(target, "FAKE-SIGNIN") {
		t.Fatalf("the launcher's argument carries the secret: %s", target)
	}
	page, link := linkIn(t, target)
	if err := private.Check(page); err != nil { // 0600, or owner-only on Windows
		t.Errorf("page: %v", err)
	}
	resp := get(t, link)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != secretURL {
		t.Fatalf("link: %d %q, want 303 to the secret URL", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers: %v", resp.Header)
	}
	if resp := get(t, link); resp.StatusCode != http.StatusGone {
		t.Errorf("link used twice: %d, want 410", resp.StatusCode)
	}
	if _, err := os.Stat(page); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("page left after use: %v", err)
	}
}

// TestRefusedConnectionKeepsTheLink: a connection the peer check refuses
// (another user's) gets 403 and does not use the link up: the user's
// browser still gets it.
func TestRefusedConnectionKeepsTheLink(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	s, launched := newServer(t, func(o *Options) {
		o.Accept = func(local, remote net.Addr) error {
			if refuse.Load() {
				return errors.New("connection from a process of another user (uid 65534) refused")
			}
			return nil
		}
	})
	if err := s.Open(secretURL); err != nil {
		t.Fatal(err)
	}
	_, link := linkIn(t, <-launched)
	if resp := get(t, link); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("other user: %d, want 403", resp.StatusCode)
	}
	refuse.Store(false)
	if resp := get(t, link); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != secretURL {
		t.Fatalf("the user after a refused attempt: %d", resp.StatusCode)
	}
}

// TestLinkExpires: a link not used within its TTL answers 410, and the
// page is removed.
func TestLinkExpires(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s, launched := newServer(t, func(o *Options) { o.Now = func() time.Time { return now } })
	if err := s.Open(secretURL); err != nil {
		t.Fatal(err)
	}
	page, link := linkIn(t, <-launched)
	now = now.Add(3 * time.Minute)
	if resp := get(t, link); resp.StatusCode != http.StatusGone {
		t.Errorf("expired link: %d, want 410", resp.StatusCode)
	}
	if _, err := os.Stat(page); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("page left: %v", err)
	}
}

// TestCloseRemovesPages: pages not used when rolecall stops are removed,
// and Open refuses after Close.
func TestCloseRemovesPages(t *testing.T) {
	s, launched := newServer(t, nil)
	if err := s.Open(secretURL); err != nil {
		t.Fatal(err)
	}
	page, _ := linkIn(t, <-launched)
	s.Close()
	if _, err := os.Stat(page); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("page left after Close: %v", err)
	}
	if err := s.Open(secretURL); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
}
