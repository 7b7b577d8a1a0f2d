package creds

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/fakeclock"
)

// BenchmarkGet is the hot path: a lock-free read of the snapshot.
func BenchmarkGet(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("slots=%d", n), func(b *testing.B) {
			clk := &fakeClock{fakeclock.New(time.Now())} // minted credentials valid on the real clock
			f := newFakeFetcher(clk)
			m := NewManager(Config{Fetcher: f, Clock: SystemClock{}})
			defer m.Close()
			for i := range n {
				if _, err := m.Load(context.Background(), fmt.Sprint("s", i), Profile{Name: fmt.Sprint("p", i)}); err != nil {
					b.Fatal(err)
				}
			}
			name := fmt.Sprint("s", n/2)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := m.Get(context.Background(), name); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
