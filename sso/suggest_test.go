package sso

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/internal/fakeclock"
	"github.com/rolecall/rolecall/keyring"
)

// naiveDistance is the full Levenshtein table, to check the banded one.
func naiveDistance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func TestEditDistanceBanded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func() []rune {
		n := r.IntN(8)
		w := make([]rune, n)
		for i := range w {
			w[i] = rune('a' + r.IntN(3))
		}
		return w
	}
	for range 20000 {
		a, b := word(), word()
		want := min(naiveDistance(a, b), maxSuggest+1)
		if got := editDistance(a, b, maxSuggest); got != want {
			t.Fatalf("editDistance(%q, %q) = %d, want %d", string(a), string(b), got, want)
		}
	}
	for _, tt := range []struct{ name, want string }{
		{"deb", "dev"}, {"DEV", "dev"}, {"prodd", "prod"}, {"stage-eu-west-12", "stage-eu-west-1"}, {"x", ""}, {"staging", ""},
	} {
		if got := suggest(tt.name, []string{"dev", "prod", "stage-eu-west-1"}); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// BenchmarkDidYouMeanLongName is the "did you mean" answer to an
// 8,000-character name with 5,000 profiles (once a CPU-bound 20 s): a
// name that is no profile, without and with a slash (the second also
// compares with the discovered names, none here: no one is signed in).
func BenchmarkDidYouMeanLongName(b *testing.B) {
	path := filepath.Join(b.TempDir(), "config")
	generatedConfig(b, path, 5000)
	old := time.Now().Add(-time.Hour) // not just written: read once
	if err := os.Chtimes(path, old, old); err != nil {
		b.Fatal(err)
	}
	gokeyring.MockInit()
	c := NewClient(Options{Keyring: keyring.New("rolecall-bench-suggest", nil), ConfigPath: path, CLICacheDir: b.TempDir()})
	ctx := context.Background()
	if _, err := c.config(ctx); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{strings.Repeat("x", 8000), strings.Repeat("x", 4000) + "/" + strings.Repeat("y", 3999)} {
		b.Run(fmt.Sprintf("slash=%v", strings.Contains(name, "/")), func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Resolve(ctx, name, "", ""); err == nil {
					b.Fatal("resolved a name that is no profile")
				}
			}
		})
	}
}

// TestUnknownNamesShareOneDiscovery: 200 requests for names nobody knows
// (slots on demand after a restart) cost one discovery; while Identity
// Center throttles, 20 of them cost one discovery's attempts, and the
// failure answers for a while instead of being asked again.
func TestUnknownNamesShareOneDiscovery(t *testing.T) {
	clk := fakeclock.New(time.Now())
	h := newHarness(t, func(o *Options) { o.Now = clk.Now })
	h.login()
	resolveMany := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := h.client.Resolve(context.Background(), fmt.Sprintf("nobody/%d", i), "", ""); err == nil {
					t.Errorf("nobody/%d resolved", i)
				}
			}()
		}
		wg.Wait()
	}
	resolveMany(200)
	// One discovery: 3 accounts in pages of 2, and each account's roles.
	if a, r := h.fake.Calls("ListAccounts"), h.fake.Calls("ListAccountRoles"); a != 2 || r != 4 {
		t.Errorf("200 unknown names: ListAccounts %d, ListAccountRoles %d; want one discovery (2 and 4)", a, r)
	}
	if testing.Short() {
		return // the rest waits for the SDK's real throttling backoff (about 25 s)
	}

	clk.Advance(11 * time.Minute) // past DiscoveryTTL (10 min): the discovery is stale
	h.fake.Lock()
	h.fake.ThrottleNext = 1 << 20
	h.fake.Unlock()
	before := h.fake.AllCalls()
	resolveMany(20)
	if n := h.fake.AllCalls() - before; n > throttleAttempts {
		t.Errorf("20 unknown names while throttled: %d calls, want at most one discovery's %d", n, throttleAttempts)
	}
	before = h.fake.AllCalls()
	resolveMany(20)
	if n := h.fake.AllCalls() - before; n != 0 {
		t.Errorf("right after a throttled discovery: %d calls, want 0", n)
	}
}

// TestSuggestTies: ties go to the first name in sort order, whatever the
// order given, and the caller's slice is left as it was.
func TestSuggestTies(t *testing.T) {
	names := []string{"prod-b", "Prod-A", "prod-a", "prod-c"}
	if got := suggest("PROD-A", names); got != "Prod-A" {
		t.Errorf("suggest(PROD-A) = %q, want Prod-A (equal but for case, first in sort order)", got)
	}
	if got := suggest("prod-x", names); got != "Prod-A" {
		t.Errorf("suggest(prod-x) = %q, want Prod-A (one edit, first in sort order)", got)
	}
	if names[0] != "prod-b" {
		t.Errorf("suggest sorted the caller's names: %q", names)
	}
}
