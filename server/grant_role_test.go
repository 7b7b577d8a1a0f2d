package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// TestGrantReadsTheRoleItWasMadeFor: a grant is for the role its profile
// named when it was made; after the profile is edited to name another
// role (its definition changes), the grant reads nothing and says why
// (before, it served whatever the name named after the next load: found
// in review).
func TestGrantReadsTheRoleItWasMadeFor(t *testing.T) {
	rig := newGrantRig(t)
	_, secret, err := rig.store.AddFor("pinned-role", creds.Profile{Name: "Acme Corp/Admin", Definition: "v1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := rig.manager.Load(ctx, "Acme Corp/Admin", creds.Profile{Name: "Acme Corp/Admin", Definition: "v1"}); err != nil {
		t.Fatal(err)
	}
	if w := do(rig.s, "GET", "/v2/credentials/"+secret, nil); w.Code != 200 {
		t.Fatalf("the role it was made for: %d %s", w.Code, w.Body)
	}
	// ~/.aws/config edited: the name now resolves to another role.
	if _, err := rig.manager.Load(ctx, "Acme Corp/Admin", creds.Profile{Name: "Acme Corp/Admin", Definition: "v2"}); err != nil {
		t.Fatal(err)
	}
	w := do(rig.s, "GET", "/v2/credentials/"+secret, nil)
	if w.Code != 403 || strings.Contains(w.Body.String(), "AccessKeyId") || !strings.Contains(w.Body.String(), "another role") {
		t.Fatalf("after the profile names another role: %d %s", w.Code, w.Body)
	}
}

// TestGrantCredentialsEndWithTheGrant: a grant that ends before its
// role's credentials hands out credentials that say so (Expiration no
// later than the grant's end), so clients come back, and are refused,
// when it ends: credentials handed out cannot be taken back (found in
// review: a 1-minute grant handed out an hour).
func TestGrantCredentialsEndWithTheGrant(t *testing.T) {
	rig := newGrantRig(t)
	g, secret, err := rig.store.Add("short", "Acme Corp/Admin", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Expiration string }
	w := do(rig.s, "GET", "/v2/credentials/"+secret, nil)
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 {
		t.Fatalf("%d %s (%v)", w.Code, w.Body, err)
	}
	exp, err := time.Parse(creds.ExpirationFormat, body.Expiration)
	if err != nil || exp.After(g.Expires) {
		t.Errorf("a grant ending %s handed out credentials expiring %s", g.Expires.UTC().Format(creds.ExpirationFormat), body.Expiration)
	}
	// The user's own token still gets the slot's full lifetime.
	w = do(rig.s, "GET", "/slot/Acme%20Corp%2FAdmin", map[string]string{"Authorization": testToken})
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 {
		t.Fatalf("%d %s (%v)", w.Code, w.Body, err)
	}
	if exp, _ := time.Parse(creds.ExpirationFormat, body.Expiration); !exp.After(g.Expires) {
		t.Errorf("the user's token got credentials expiring %s, cut to the grant's end", body.Expiration)
	}
}
