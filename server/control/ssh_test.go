package control

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// countingLeases hands out shares and counts those not released.
type countingLeases struct {
	mu       sync.Mutex
	held     int
	released chan struct{}
}

func (l *countingLeases) Acquire(dest, slot string, ttl time.Duration, keep bool) (string, string, func(), error) {
	l.mu.Lock()
	l.held++
	l.mu.Unlock()
	return "ssh-" + dest, "secret-EXAMPLE", func() {
		l.mu.Lock()
		l.held--
		l.mu.Unlock()
		l.released <- struct{}{}
	}, nil
}

type testListener struct{ Listener }

// sshControl serves the control API with leases that count.
func sshControl(t *testing.T) (*countingLeases, *Server, string) {
	leases := &countingLeases{released: make(chan struct{}, 2)}
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	srv, err := Open(path, Options{SSH: leases, Listener: testListener{},
		Resolve: func(_ context.Context, req LoadRequest) (creds.Profile, error) {
			return creds.Profile{Name: req.Profile}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return leases, srv, path
}

func (testListener) URL() string { return "http://127.0.0.1:4144/" }

// TestSSHLeaseLastsAsLongAsTheConnection: the share is held while the
// client's request is open, released when the client goes away, and when
// rolecall stops.
func TestSSHLeaseLastsAsLongAsTheConnection(t *testing.T) {
	leases, srv, path := sshControl(t)

	ctx, cancel := context.WithCancel(context.Background())
	lease, ended, err := NewClient(path).SSH(ctx, SSHRequest{Destination: "me@box", Profile: "dev/Admin"})
	if err != nil {
		t.Fatal(err)
	}
	want := SSHLease{Grant: "ssh-me@box", Profile: "dev/Admin", Secret: "secret-EXAMPLE", FullURI: "http://127.0.0.1:4144/slot/dev%2FAdmin"}
	if lease != want {
		t.Errorf("lease %+v; want %+v", lease, want)
	}
	select {
	case <-leases.released:
		t.Fatal("released while the client holds it")
	case <-ended:
		t.Fatal("the server let go while the client holds it")
	default:
	}
	cancel()
	select {
	case <-leases.released:
	case <-time.After(10 * time.Second):
		t.Fatal("not released when the client went away")
	}
	<-ended

	// rolecall stopping ends the share, and tells the client.
	_, ended, err = NewClient(path).SSH(context.Background(), SSHRequest{Destination: "me@box", Profile: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- srv.Close(context.Background()) }()
	select {
	case <-leases.released:
	case <-time.After(10 * time.Second):
		t.Fatal("not released when rolecall stopped")
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the client was not told")
	}
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
	if leases.held != 0 {
		t.Errorf("%d shares held", leases.held)
	}
}

// TestSSHLeaseRefusals: a bad TTL and a missing destination are refused
// with what to do, and nothing is held.
func TestSSHLeaseRefusals(t *testing.T) {
	leases, _, path := sshControl(t)
	for _, req := range []SSHRequest{{Destination: "box", Profile: "dev", TTL: "soon"}, {Profile: "dev"}} {
		if _, _, err := NewClient(path).SSH(context.Background(), req); err == nil {
			t.Errorf("%+v: accepted", req)
		}
	}
	if leases.held != 0 {
		t.Errorf("%d shares held", leases.held)
	}
}
