package sso

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

// BenchmarkConfig is the AWS config series of `make bench`: 500, 5,000
// and 20,000 generated profiles. "load" is what `rolecall load --profile`
// costs after the file changed (one pass over the file, the SDK's loader
// for that profile only, GetRoleCredentials from the fake Identity
// Center); "roles" is the listing of every role after a change; "cached"
// is a load with the file unchanged. retained-MiB is the heap the cached
// view of the file keeps.
func BenchmarkConfig(b *testing.B) {
	var accounts []fakeidc.Account
	for _, n := range []int{500, 5000, 20000} {
		// The account of the profile loaded, p<n/2>.
		id := fmt.Sprintf("%012d", 100000000000+n/2/3)
		accounts = append(accounts, fakeidc.Account{ID: id, Name: "acct-" + id, Roles: []string{"Role0", "Role1", "Role2"}})
	}
	fake := fakeidc.New(accounts...)
	defer fake.Close()
	b.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", fake.URL)
	b.Setenv("AWS_ENDPOINT_URL_SSO", fake.URL)
	for _, n := range []int{500, 5000, 20000} {
		client, _ := benchClient(b, fake)
		generatedConfig(b, client.opts.ConfigPath, n)
		ctx := context.Background()
		target := fmt.Sprintf("p%05d", n/2)
		load := func(b *testing.B) {
			p, err := client.Resolve(ctx, target, "", "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := client.Fetch(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("profiles=%d/load", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				client.forgetConfig()
				load(b)
			}
		})
		b.Run(fmt.Sprintf("profiles=%d/roles", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				client.forgetConfig()
				roles, _, err := client.Roles(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(roles) < n {
					b.Fatalf("%d roles for %d profiles", len(roles), n)
				}
			}
		})
		b.Run(fmt.Sprintf("profiles=%d/cached", n), func(b *testing.B) {
			b.ReportAllocs()
			load(b)
			for b.Loop() {
				load(b)
			}
			b.ReportMetric(retainedMiB(client), "retained-MiB")
		})
	}
}

// forgetConfig drops the cached view of the AWS config file.
func (c *Client) forgetConfig() {
	c.cfgMu.Lock()
	c.cfg = nil
	c.cfgMu.Unlock()
}

// retainedMiB is the live heap the cached view of the config holds.
func retainedMiB(c *Client) float64 {
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	c.forgetConfig()
	runtime.GC()
	runtime.ReadMemStats(&without)
	return float64(int64(with.HeapAlloc)-int64(without.HeapAlloc)) / (1 << 20)
}

var _ creds.Fetcher = (*Client)(nil)
