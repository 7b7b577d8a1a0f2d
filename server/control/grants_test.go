package control

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/grants"
)

// loopbackListener stands for the credential listener at its default URL.
type loopbackListener struct{}

func (loopbackListener) URL() string                           { return "http://127.0.0.1:4144/" }
func (loopbackListener) TLS() bool                             { return false }
func (loopbackListener) SetCertificate(*tls.Certificate) error { return errors.New("plain HTTP") }

// TestGrantsRoundTrip: add, list, check and revoke over the socket, with
// the real grants store; the secret is shown once and kept nowhere.
func TestGrantsRoundTrip(t *testing.T) {
	dir, err := os.MkdirTemp("", "rolecall-control-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	store, err := grants.Open(filepath.Join(dir, "state"), grants.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := creds.NewManager(creds.Config{Fetcher: creds.FetcherFunc(func(context.Context, creds.Profile) (creds.Credentials, error) {
		return creds.Credentials{}, errors.New("not fetched in this test")
	})})
	t.Cleanup(func() { m.Close() })
	path := filepath.Join(dir, "run", "control.sock")
	s, err := Open(path, Options{
		Manager: m, Grants: store, Listener: loopbackListener{},
		Resolve: func(_ context.Context, req LoadRequest) (creds.Profile, error) {
			if req.Profile == "Acme/Admin" || req.Profile == "dev" {
				return creds.Profile{Name: req.Profile}, nil
			}
			return creds.Profile{}, creds.Errorf(creds.NoSuchProfile, nil, req.Profile)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	cl := NewClient(path)
	ctx := context.Background()

	added, err := cl.AddGrant(ctx, GrantRequest{Name: "agent", Profile: "Acme/Admin", TTL: "8h"})
	if err != nil {
		t.Fatal(err)
	}
	if added.FullURI != "http://127.0.0.1:4144/slot/Acme%2FAdmin" || added.RelativeURI != "/v2/credentials/"+added.Secret || len(added.Secret) != 43 {
		t.Errorf("added = %+v", added)
	}
	if g := added.Grant; g.Name != "agent" || g.Profile != "Acme/Admin" || g.State != "active" || g.Expires == "" || g.Created == "" {
		t.Errorf("grant = %+v", g)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "state", grants.FileName))
	if strings.Contains(string(b), added.Secret) {
		t.Error("the secret was written to the grants file")
	}

	var api *APIError
	for _, tc := range []struct {
		req    GrantRequest
		status int
		want   string
	}{
		{GrantRequest{Name: "agent", Profile: "dev"}, http.StatusConflict, "rolecall grant revoke agent"},
		{GrantRequest{Name: "x", Profile: "nope"}, http.StatusNotFound, "no profile named nope"},
		{GrantRequest{Name: "x"}, http.StatusBadRequest, "--profile P"},
		{GrantRequest{Name: "x y", Profile: "dev"}, http.StatusBadRequest, "grant name"},
		{GrantRequest{Name: "x", Profile: "dev", TTL: "soon"}, http.StatusBadRequest, "--ttl soon"},
		{GrantRequest{Name: "x", Profile: "dev", TTL: "10ms"}, http.StatusBadRequest, "--ttl 10ms"},
	} {
		if _, err := cl.AddGrant(ctx, tc.req); !errors.As(err, &api) || api.Status != tc.status || !strings.Contains(api.Message, tc.want) {
			t.Errorf("AddGrant(%+v) = %v, want %d with %q", tc.req, err, tc.status, tc.want)
		}
	}

	chk, err := cl.CheckGrant(ctx, added.Secret)
	if err != nil || chk.Grant.Name != "agent" || chk.Problem != "" {
		t.Errorf("CheckGrant = %+v, %v", chk, err)
	}
	if _, err := cl.CheckGrant(ctx, strings.Repeat("A", 43)); !errors.As(err, &api) || api.Status != http.StatusNotFound {
		t.Errorf("CheckGrant(unknown) = %v", err)
	}
	if g, err := cl.RevokeGrant(ctx, "agent"); err != nil || g.State != "revoked" || g.Revoked == "" {
		t.Errorf("RevokeGrant = %+v, %v", g, err)
	}
	if _, err := cl.RevokeGrant(ctx, "agent"); !errors.As(err, &api) || api.Status != http.StatusNotFound || !strings.Contains(api.Message, "rolecall grant list") {
		t.Errorf("second RevokeGrant = %v", err)
	}
	chk, err = cl.CheckGrant(ctx, added.Secret)
	if err != nil || !strings.Contains(chk.Problem, "was revoked") {
		t.Errorf("CheckGrant after revoke = %+v, %v", chk, err)
	}
	if _, err := cl.AddGrant(ctx, GrantRequest{Name: "ide", Profile: "dev"}); err != nil {
		t.Fatal(err)
	}
	list, err := cl.Grants(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "ide" || list[0].State != "active" || list[1].Name != "agent" || list[1].State != "revoked" {
		t.Errorf("Grants = %+v, %v", list, err)
	}
}
