package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// gate holds the fetches of named profiles until the listener has
// answered a request for them with a 503, which it logs.
type gate struct {
	slog.Handler
	*gates
}

type gates struct {
	mu   sync.Mutex
	open map[string]chan struct{}
}

func (g *gate) ch(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.open[name]
	if !ok {
		c = make(chan struct{})
		g.open[name] = c
	}
	return c
}

func (g *gate) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "credentials unavailable" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "slot" {
				g.release(a.Value.String())
			}
			return true
		})
	}
	return g.Handler.Handle(ctx, r)
}

// release opens the gate of the slot a log line names.
func (g *gate) release(label string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, c := range g.open {
		if label == creds.SlotLabel(name) {
			select {
			case <-c:
			default:
				close(c)
			}
		}
	}
}

// WithAttrs keeps the gates shared.
func (g *gate) WithAttrs(as []slog.Attr) slog.Handler {
	return &gate{Handler: g.Handler.WithAttrs(as), gates: g.gates}
}

// TestSlotOnDemandSlowLoadIsRetried: when the first load of a slot takes
// longer than the listener's one-second wait, the Go SDK and botocore get
// a 503, retry by themselves, and their first call succeeds.
func TestSlotOnDemandSlowLoadIsRetried(t *testing.T) {
	desktoptest.SkipShort(t, "waits for the SDKs' own retries")
	stsURL := moto(t)
	gokeyring.MockInit()
	g := &gate{Handler: slog.NewTextHandler(os.Stderr, nil), gates: &gates{open: map[string]chan struct{}{}}}
	g.ch("slow-go")
	g.ch("slow-cli")
	mint := stsFetcher(stsURL)
	fetcher := creds.FetcherFunc(func(ctx context.Context, p creds.Profile) (creds.Credentials, error) {
		select {
		case <-g.ch(p.Name):
		case <-ctx.Done():
			return creds.Credentials{}, ctx.Err()
		}
		return mint.Fetch(ctx, p)
	})
	dir := t.TempDir()
	st := settings.Defaults()
	st.Port = 0
	sock := filepath.Join(dir, "run", "control.sock")
	t.Setenv(control.SocketEnv, sock)
	e, err := engine.Start(context.Background(), engine.Config{
		Settings: st, Socket: sock, StateDir: filepath.Join(dir, "state"),
		Fetcher: fetcher, Resolve: resolveByName, Keyring: keyring.New("rolecall-test", nil), Log: slog.New(g),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	tokenFile := filepath.Join(dir, "state", "token")
	wantAssumed(t, "Go SDK after a 503", goCallerIdentity(t, clientEnv(t, e.Env().FullURI+"slot/slow-go", tokenFile), stsURL), "slow-go")
	if _, err := exec.LookPath("aws"); err != nil {
		skipOrFail(t, "the AWS CLI (aws) is missing")
	} else {
		arn := runClient(t, clientEnv(t, e.Env().FullURI+"slot/slow-cli", tokenFile), "aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json")
		wantAssumed(t, "AWS CLI after a 503", arn, "slow-cli")
	}
	for _, name := range []string{"slow-go", "slow-cli"} {
		select {
		case <-g.ch(name):
		default:
			t.Errorf("%s: no 503 was answered, so no retry was shown", name)
		}
	}
	if out := mustCLI(t, "list"); !strings.Contains(out, "slow-go") {
		t.Errorf("list:\n%s", out)
	}
}
