package server

import (
	"context"
	"fmt"
	"io"
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
