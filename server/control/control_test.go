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

// The code of a cross-device sign-in reaches the sign-in by its profile;
// a refusal comes back as its message, and a rolecall without sign-ins
// says so.
func TestSigninCode(t *testing.T) {
	got := make(chan SigninCodeRequest, 1)
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	srv, err := Open(path, Options{SigninCode: func(profile, code string) error {
		if code == "bad" {
			return errors.New("no cross-device sign-in of profile me is waiting for a code")
		}
		got <- SigninCodeRequest{profile, code}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	cl := NewClient(path)
	if err := cl.SigninCode(context.Background(), "me", "Y29kZT1hYmM="); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.Profile != "me" || r.Code != "Y29kZT1hYmM=" {
		t.Errorf("got %+v", r)
	}
	if err := cl.SigninCode(context.Background(), "me", "bad"); err == nil || err.Error() != "no cross-device sign-in of profile me is waiting for a code" {
		t.Errorf("a refused code: %v", err)
	}

	path2 := filepath.Join(t.TempDir(), "run", "control.sock")
	srv2, err := Open(path2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close(context.Background())
	if err := NewClient(path2).SigninCode(context.Background(), "me", "x"); err == nil {
		t.Error("a rolecall without sign-ins took a code")
	}
}
