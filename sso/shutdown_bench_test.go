package sso

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

// BenchmarkCloseWithSlotsInFlight is a stop (SIGTERM) moments after 300
// named slots were restored at start: ns/op is how long the manager's
// Close waits for their resolves and fetches (once 67 s).
func BenchmarkCloseWithSlotsInFlight(b *testing.B) {
	fake := fakeidc.New(fakeidc.Account{ID: "100000000000", Name: "acct", Roles: []string{"Role0", "Role1", "Role2"}})
	defer fake.Close()
	fake.Latency = 50 * time.Millisecond
	b.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", fake.URL)
	b.Setenv("AWS_ENDPOINT_URL_SSO", fake.URL)
	client, _ := benchClient(b, fake)
	const slots = 300
	for b.Loop() {
		b.StopTimer()
		generatedConfig(b, client.opts.ConfigPath, slots) // a new view of the file: every profile is resolved again
		old := time.Now().Add(-time.Hour)
		os.Chtimes(client.opts.ConfigPath, old, old)
		client.forgetConfig()
		names := creds.ResolverFunc(func(ctx context.Context, name string) (creds.Profile, error) {
			return client.Resolve(ctx, name, "", "")
		})
		m := creds.NewManager(creds.Config{Fetcher: client, Names: names})
		for i := range slots {
			name := fmt.Sprintf("p%05d", i)
			m.Restore(name, creds.Profile{Name: name}, true)
		}
		b.StartTimer()
		m.Close()
	}
}
