package engine

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/testpki"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/private"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// gatedKeyring is an OS keyring whose reads wait until it is opened, as a
// session bus that answers late at login does; it counts the reads.
type gatedKeyring struct {
	open chan struct{}
	mu   sync.Mutex
	m    map[string]string
}

func (g *gatedKeyring) Get(_, user string) (string, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.m[user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (g *gatedKeyring) Set(_, user, v string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.m[user] = v
	return nil
}

func (g *gatedKeyring) Delete(_, user string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.m, user)
	return nil
}

// TestColdStartServesBeforeKeyring: with the token file of an earlier run,
// the listener and the control channel serve before the keyring answers.
// The keyring holds another token (a rotation whose file write failed) and
// a TLS pair: once it answers, its token replaces the file's in the
// listener and in the file, and the loopback listener stays plain HTTP.
func TestColdStartServesBeforeKeyring(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	const fileToken, keyringToken = "file-token-aaaaaaaaaaaaaaaaaaaa", "keyring-token-bbbbbbbbbbbbbbbbb"
	if err := private.WriteFile(filepath.Join(stateDir, "token"), []byte(fileToken)); err != nil {
		t.Fatal(err)
	}
	// The default slot remembered from the last run is put back.
	if err := private.WriteFile(filepath.Join(stateDir, stateFileName), []byte(`{"default":"dev/Admin","recent":[]}`)); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := testpki.WritePair(t, dir, "127.0.0.1")
	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(keyFile)
	g := &gatedKeyring{open: make(chan struct{}), m: map[string]string{
		keyListenerToken: keyringToken, keyTLSCert: string(certPEM), keyTLSKey: string(keyPEM),
	}}
	opened := sync.OnceFunc(func() { close(g.open) })
	t.Cleanup(opened)
	st := settings.Defaults()
	st.Port = 0
	fetch := creds.FetcherFunc(func(context.Context, creds.Profile) (creds.Credentials, error) {
		now := time.Now()
		return creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			Issued: now, Expiration: now.Add(time.Hour)}, nil
	})
	type started struct {
		e   *Engine
		err error
	}
	done := make(chan started, 1)
	go func() {
		e, err := Start(context.Background(), Config{
			Settings: st, Socket: filepath.Join(dir, "run", "control.sock"), StateDir: stateDir, Fetcher: fetch,
			Resolve: func(_ context.Context, r control.LoadRequest) (creds.Profile, error) {
				return creds.Profile{Name: r.Profile}, nil
			},
			Keyring: keyring.NewWith("rolecall-test", g, nil),
		})
		done <- started{e, err}
	}()
	var e *Engine
	select {
	case s := <-done:
		if s.err != nil {
			t.Fatal(s.err)
		}
		e = s.e
	case <-time.After(3 * time.Second):
		opened()
		if s := <-done; s.e != nil {
			s.e.Close()
		}
		t.Fatal("Start waited for the keyring before serving")
	}
	defer e.Close()
	url := e.listener.URL()
	if got := statusWith(t, http.DefaultClient, url, fileToken); got != http.StatusOK {
		t.Fatalf("before the keyring answered: GET / with the token file's token = %d, want 200", got)
	}
	if _, err := control.NewClient(filepath.Join(dir, "run", "control.sock")).Status(context.Background()); err != nil {
		t.Fatalf("control channel before the keyring answered: %v", err)
	}

	opened()
	deadline := time.Now().Add(10 * time.Second)
	for e.secrets.Token() != keyringToken {
		if time.Now().After(deadline) {
			t.Fatalf("keyring read: token %q", e.secrets.Token())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b, _ := os.ReadFile(filepath.Join(stateDir, "token")); string(b) != keyringToken {
		t.Errorf("token file = %q, want the keyring's token", b)
	}
	// The saved pair does not take loopback away: plain HTTP for this
	// machine's clients (issue #23).
	if e.listener.TLS() || e.listener.URL() != url {
		t.Errorf("a TLS pair saved in the keyring switched the loopback listener: TLS %v, URL %s", e.listener.TLS(), e.listener.URL())
	}
	if got := statusWith(t, http.DefaultClient, url, keyringToken); got != http.StatusOK {
		t.Errorf("after the keyring answered: %s with its token = %d, want 200", url, got)
	}
	if got := statusWith(t, http.DefaultClient, url, fileToken); got != http.StatusForbidden {
		t.Errorf("after the keyring answered: the file's old token = %d, want 403", got)
	}
}

func statusWith(t *testing.T, cl *http.Client, url, token string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", token)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		// The restored default slot may still be fetching: 503 until it is.
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return resp.StatusCode
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestColdStartKeyringAnswers: what the keyring says once read, with the
// token file of an earlier run: a keyring without the token gets the
// file's; an unusable saved TLS pair is reported and rolecall serves on
// (`rolecall tls delete` needs it running).
func TestColdStartKeyringAnswers(t *testing.T) {
	const fileToken = "file-token-aaaaaaaaaaaaaaaaaaaa"
	for _, tt := range []struct {
		name    string
		keyring map[string]string
	}{
		{name: "no token in the keyring", keyring: map[string]string{}},
		{name: "unusable TLS pair", keyring: map[string]string{keyListenerToken: fileToken, keyTLSPair: "not PEM"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stateDir := filepath.Join(dir, "state")
			if err := private.WriteFile(filepath.Join(stateDir, "token"), []byte(fileToken)); err != nil {
				t.Fatal(err)
			}
			g := &gatedKeyring{open: make(chan struct{}), m: tt.keyring}
			close(g.open)
			st := settings.Defaults()
			st.Port = 0
			e, err := Start(context.Background(), Config{
				Settings: st, Socket: filepath.Join(dir, "run", "control.sock"), StateDir: stateDir,
				Fetcher: creds.FetcherFunc(func(context.Context, creds.Profile) (creds.Credentials, error) {
					return creds.Credentials{}, creds.ErrLoginRequired
				}),
				Resolve: func(_ context.Context, r control.LoadRequest) (creds.Profile, error) {
					return creds.Profile{Name: r.Profile}, nil
				},
				Keyring: keyring.NewWith("rolecall-test", g, nil),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			e.bg.Wait() // readKeyring is done
			select {
			case <-e.Done():
				t.Fatal("rolecall stopped")
			default:
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if got := g.m[keyListenerToken]; got != fileToken {
				t.Errorf("keyring token = %q, want the token file's", got)
			}
		})
	}
}
