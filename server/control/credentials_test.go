package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/desktoptest"
)

// testControl serves the control API over a socket in a fresh directory,
// with a real credential manager whose fetcher invents credentials.
func testControl(t *testing.T) (*Client, *creds.Manager, string) {
	t.Helper()
	m := creds.NewManager(creds.Config{Fetcher: creds.FetcherFunc(func(_ context.Context, p creds.Profile) (creds.Credentials, error) {
		return creds.Credentials{
			AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			SessionToken: "FQoGZXIvYXdzEXAMPLE", Expiration: time.Now().Add(time.Hour),
			RoleARN: "arn:aws:iam::111122223333:role/" + p.Name, AccountID: "111122223333",
		}, nil
	})})
	t.Cleanup(func() { m.Close() })
	dir, err := os.MkdirTemp("", "rolecall-control-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "run", "control.sock")
	s, err := Open(path, Options{Manager: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return NewClient(path), m, path
}

func TestCredentialsRoute(t *testing.T) {
	cl, m, _ := testControl(t)
	ctx := context.Background()
	var api *APIError
	if _, err := cl.Credentials(ctx, "dev"); !errors.As(err, &api) || api.Status != http.StatusNotFound || !strings.Contains(api.Message, "rolecall load --profile dev --slot") {
		t.Errorf("slot not loaded: %v", err)
	}
	if _, err := cl.Credentials(ctx, ""); !errors.As(err, &api) || api.Status != http.StatusNotFound {
		t.Errorf("nothing in the default slot: %v", err)
	}
	if _, err := m.Load(ctx, "dev", creds.Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	cr, err := cl.Credentials(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if cr.AccessKeyID != "ASIAIOSFODNN7EXAMPLE" || cr.SecretAccessKey == "" || cr.SessionToken == "" ||
		cr.RoleARN != "arn:aws:iam::111122223333:role/dev" || !strings.HasSuffix(cr.Expiration, "Z") {
		t.Errorf("credentials = %+v", cr)
	}
}

func TestPeerUIDOwnConnection(t *testing.T) {
	desktoptest.LinuxOnly(t, "the peer's user of a control connection (SO_PEERCRED)")
	_, _, path := testControl(t)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The server's side of a connection is what peerUID sees; our own
	// side names the server, which is us too.
	if uid, known := peerUID(c); !known || uid != os.Getuid() {
		t.Errorf("peerUID = %d, %v; want %d", uid, known, os.Getuid())
	}
}

// TestCredentialsRefusedToOtherUser: even on a socket whose permissions
// were opened up, another user gets no credentials.
func TestCredentialsRefusedToOtherUser(t *testing.T) {
	desktoptest.LinuxOnly(t, "the peer's user of a control connection (SO_PEERCRED)")
	desktoptest.SkipShort(t, "runs a client as another user")
	if os.Getuid() != 0 {
		desktoptest.SkipOrFail(t, "TestCredentialsRefusedToOtherUser needs root to run a client as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		desktoptest.SkipOrFail(t, "setpriv (Debian package util-linux) is missing")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		desktoptest.SkipOrFail(t, "curl (Debian package curl) is missing")
	}
	_, m, path := testControl(t)
	if _, err := m.Load(context.Background(), "dev", creds.Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	ask := func(args ...string) string {
		cmd := append(args, curl, "-s", "--unix-socket", path, "http://rolecall/v1/credentials?profile=dev")
		out, _ := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		return string(out)
	}
	asNobody := []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}
	if out := ask(asNobody...); strings.Contains(out, "EXAMPLEKEY") {
		t.Fatalf("another user read credentials through the 0600 socket: %s", out)
	}
	// Open the permissions up, as a mistake would: the peer check still refuses.
	for p := path; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o777)
	}
	if out := ask(asNobody...); !strings.Contains(out, `"code":"403"`) || strings.Contains(out, "EXAMPLEKEY") {
		t.Fatalf("another user on an open socket: %s", out)
	}
	if out := ask(); !strings.Contains(out, "EXAMPLEKEY") {
		t.Fatalf("our own user: %s", out)
	}
}
