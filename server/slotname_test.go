package server

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/rolecall/rolecall/creds"
)

// TestSlotPathTricksAre404: path tricks under /slot/ never answer 200
// and never reach the slots (a load on demand would ask upstream), even
// with a resolver that would load any name.
func TestSlotPathTricksAre404(t *testing.T) {
	var asked atomic.Int32
	m := creds.NewManager(creds.Config{Fetcher: testFetcher, Resolver: creds.ResolverFunc(
		func(_ context.Context, name string) (creds.Profile, error) {
			asked.Add(1)
			return creds.Profile{Name: name}, nil
		})})
	t.Cleanup(func() { m.Close() })
	s := newTestServer(t, func(o *Options) { o.Source = m })
	for _, target := range []string{"/slot/..", "/slot/%2e%2e", "/slot/.", "/slot/a/../b", "/slot/a%2F..%2Fb", "/slot/a//b", "/slot/x%0Ay", "/slot/..%2F"} {
		w := do(s, http.MethodGet, target, auth())
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d %s, want 404", target, w.Code, w.Body)
		}
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the resolver was asked %d times for path tricks", n)
	}
	if w := do(s, http.MethodGet, "/slot/Acme%2FAdmin", auth()); w.Code != http.StatusOK {
		t.Errorf("a real name: %d %s", w.Code, w.Body)
	}
}
