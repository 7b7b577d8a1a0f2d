package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// BenchmarkHandler is the credential GET without a network: guards, token,
// lookup, cached body.
func BenchmarkHandler(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("slots=%d", n), func(b *testing.B) {
			m := creds.NewManager(creds.Config{Fetcher: testFetcher})
			defer m.Close()
			for i := range n {
				name := fmt.Sprintf("p%04d", i)
				if _, err := m.Load(context.Background(), name, creds.Profile{Name: name}); err != nil {
					b.Fatal(err)
				}
			}
			s := newTestServer(b, func(o *Options) { o.Source = m })
			h := s.Handler()
			target := fmt.Sprintf("/slot/p%04d", n/2)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", target, nil)
				r.Host = "127.0.0.1:4144"
				r.Header.Set("Authorization", testToken)
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

// BenchmarkLoopback is the whole request over keep-alive loopback
// connections, with the peer check and the audit log on.
func BenchmarkLoopback(b *testing.B) {
	a, err := OpenAudit(filepath.Join(b.TempDir(), "audit.log"), AuditOptions{Every: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	s := newTestServer(b, func(o *Options) { o.Audit = a; o.SameUserOnly = true })
	if err := s.Open(); err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	cl := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", s.URL(), nil)
		req.Header.Set("Authorization", testToken)
		for pb.Next() {
			resp, err := cl.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing but the status, so
// that a benchmark of a handler measures the handler.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkHandlerOverBare is rolecall's handler (guards, token, lookup,
// cached body, audit count) beside a bare handler writing the same bytes
// and headers, on the same request with a writer that keeps nothing: the
// difference is what rolecall's own code adds to a request.
func BenchmarkHandlerOverBare(b *testing.B) {
	m := creds.NewManager(creds.Config{Fetcher: testFetcher})
	defer m.Close()
	if _, err := m.Load(context.Background(), "dev", creds.Profile{Name: "dev"}); err != nil {
		b.Fatal(err)
	}
	a, err := OpenAudit(filepath.Join(b.TempDir(), "audit.log"), AuditOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	s := newTestServer(b, func(o *Options) { o.Source = m; o.Audit = a })
	r := httptest.NewRequest("GET", "/slot/dev", nil)
	r.Host = "127.0.0.1:4144"
	r.Header.Set("Authorization", testToken)
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.36.3 os/linux lang/go#1.26 md/GOOS#linux md/GOARCH#amd64")
	r.Header.Set("Accept-Encoding", "gzip")
	// The connection as the listener knows it after its first request.
	ci := &connInfo{local: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4144}, remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}, uid: -1}
	ci.peerOnce.Do(func() {})
	r = r.WithContext(context.WithValue(r.Context(), connKey{}, ci))
	w := &discardWriter{h: http.Header{}}
	s.Handler().ServeHTTP(w, r)
	if w.code != 0 && w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
	slot, err := m.GetSlot(context.Background(), "dev")
	if err != nil {
		b.Fatal(err)
	}
	body := s.body("dev", &slot.Creds)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = jsonType
		h["Content-Length"] = body.length
		w.Write(body.body)
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"rolecall", s.Handler()}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, r)
			}
		})
	}
}
