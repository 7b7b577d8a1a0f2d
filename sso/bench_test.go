package sso

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/keyring"

	"github.com/rolecall/rolecall/internal/fakeidc"
)

// BenchmarkDiscovery lists 300 accounts with 3 roles each from a fake
// Identity Center that takes 50 ms per call: serial listing would take
// 300 × 50 ms = 15 s for the roles alone.
func BenchmarkDiscovery(b *testing.B) {
	var accounts []fakeidc.Account
	for i := range 300 {
		accounts = append(accounts, fakeidc.Account{
			ID: fmt.Sprintf("%012d", 100000000000+i), Name: fmt.Sprintf("account-%03d", i),
			Roles: []string{"Admin", "ReadOnly", "Deploy"},
		})
	}
	fake := fakeidc.New(accounts...)
	defer fake.Close()
	fake.PageSize = 100
	b.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", fake.URL)
	b.Setenv("AWS_ENDPOINT_URL_SSO", fake.URL)
	client, s := benchClient(b, fake)
	fake.Latency = 50 * time.Millisecond
	b.ResetTimer()
	for b.Loop() {
		client.state(s.Key).found = nil // uncached every time
		roles, err := client.discover(context.Background(), s)
		if err != nil {
			b.Fatal(err)
		}
		if len(roles) != 900 {
			b.Fatalf("%d roles, want 900", len(roles))
		}
	}
	b.ReportMetric(float64(fake.PeakConcurrency()), "peak-concurrent-calls")
}

// benchClient is a client signed in to the fake, outside of a test.
func benchClient(b *testing.B, fake *fakeidc.Server) (*Client, *Session) {
	gokeyring.MockInit()
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"), 0o600)
	opened := make(chan string, 1)
	client := NewClient(Options{
		Keyring: keyring.New("rolecall-bench", nil), ConfigPath: cfg, CLICacheDir: filepath.Join(dir, "cache"),
		OpenBrowser: func(url string) error { opened <- url; return nil },
		Sleep:       func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
	s, err := client.Session(context.Background(), "corp")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		url := <-opened
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := client.Login(context.Background(), s, LoginOptions{}); err != nil {
		b.Fatal(err)
	}
	return client, s
}

// BenchmarkOutageRefresh is one refresh of a role's credentials while
// Identity Center answers 503 to everything: calls/op is what one refresh
// attempt costs the service, ns/op how long the slot waits for its error
// (and so shows "refreshing" without a reason). Calls per outage minute
// follow from the manager's backoff (5 s doubling, ±50 % jitter).
func BenchmarkOutageRefresh(b *testing.B) {
	fake := fakeidc.New(fakeidc.Account{ID: "111111111111", Name: "dev", Roles: []string{"Admin"}})
	defer fake.Close()
	b.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", fake.URL)
	b.Setenv("AWS_ENDPOINT_URL_SSO", fake.URL)
	client, s := benchClient(b, fake)
	fake.Lock()
	fake.Outage = true
	fake.Unlock()
	before := fake.AllCalls()
	b.ResetTimer()
	for b.Loop() {
		if _, err := client.roleCredentials(context.Background(), s, "111111111111", "Admin"); err == nil {
			b.Fatal("no error during an outage")
		}
	}
	b.ReportMetric(float64(fake.AllCalls()-before)/float64(b.N), "calls/op")
}
