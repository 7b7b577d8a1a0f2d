package sso

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/creds"
)

// TestEditedProfileIsAnotherRole: after an edit of a profile in the AWS
// config (another account), loading it again serves the new role, never
// the old role's kept credentials; an edit elsewhere keeps its identity.
func TestEditedProfileIsAnotherRole(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	ctx := context.Background()
	m := creds.NewManager(creds.Config{Fetcher: h.client})
	t.Cleanup(func() { m.Close() })
	load := func() creds.Slot {
		t.Helper()
		p, err := h.client.Resolve(ctx, "dev", "", "")
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.Load(ctx, "dev", p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := load()
	if before.Creds.AccountID != "111111111111" {
		t.Fatalf("dev serves %s", before.Creds.RoleARN)
	}
	m.Unload("dev") // its credentials are kept for a switch back

	// An edit of another profile: dev is the same role (reused).
	edit(t, h.cfgPath, "[profile legacy]", "[profile legacy]\nregion = us-west-2")
	if again := load(); again.Creds.AccessKeyID != before.Creds.AccessKeyID {
		t.Errorf("an edit of another profile made dev another role")
	}
	m.Unload("dev")

	edit(t, h.cfgPath, "sso_account_id = 111111111111", "sso_account_id = 222222222222")
	edit(t, h.cfgPath, "sso_role_name = Admin", "sso_role_name = ReadOnly")
	after := load()
	if after.Creds.RoleARN != "arn:aws:iam::222222222222:role/ReadOnly" {
		t.Errorf("after the edit dev serves %s, want the edited role", after.Creds.RoleARN)
	}
}

// edit replaces old with new in the file at path.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}
