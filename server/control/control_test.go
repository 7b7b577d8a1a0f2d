package control

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// blockingSessions is a Sessions whose login waits until its context ends.
type blockingSessions struct {
	Sessions
	prompted chan struct{}
	ended    chan error
}

func (b blockingSessions) Login(ctx context.Context, _ LoginRequest, prompt func(LoginPrompt)) (LoginResult, error) {
	prompt(LoginPrompt{UserCode: "ABCD-EFGH"})
	close(b.prompted)
	<-ctx.Done()
	b.ended <- ctx.Err()
	return LoginResult{}, ctx.Err()
}

// Shutdown ends a streaming login instead of waiting for it.
func TestCloseCancelsStreamingLogin(t *testing.T) {
	sessions := blockingSessions{prompted: make(chan struct{}), ended: make(chan error, 1)}
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	srv, err := Open(path, Options{Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	clientDone := make(chan error, 1)
	go func() {
		_, err := NewClient(path).Login(context.Background(), LoginRequest{}, func(LoginPrompt) {})
		clientDone <- err
	}()
	select {
	case <-sessions.prompted:
	case <-time.After(10 * time.Second):
		t.Fatal("the login never started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Errorf("Close waited for the login: %v", err)
	}
	select {
	case err := <-sessions.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("login ended with %v", err)
		}
	default:
		t.Error("the login was still running after Close")
	}
	select {
	case err := <-clientDone:
		if err == nil {
			t.Error("the client was told the login worked")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client never heard the end of the login")
	}
}
