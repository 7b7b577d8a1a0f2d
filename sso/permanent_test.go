package sso

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/rolecall/rolecall/creds"
)

// TestPermanentFailuresWrapErrPermanent: what retrying cannot fix (a
// profile removed, a permission set taken away, a source_profile loop, a
// name that names nothing) wraps creds.ErrPermanent, so the manager stops
// retrying and the listener answers 409; a login-required stays that.
func TestPermanentFailuresWrapErrPermanent(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	if _, err := h.client.Fetch(ctx, creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) || errors.Is(err, creds.ErrPermanent) {
		t.Fatalf("before login: %v, want login required only", err)
	}
	h.login()
	if _, err := h.client.Fetch(ctx, creds.Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(h.cfgPath, []byte(`[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1

[profile a]
role_arn = arn:aws:iam::111111111111:role/a
source_profile = b

[profile b]
role_arn = arn:aws:iam::111111111111:role/b
source_profile = a
`), 0o600)
	for name, p := range map[string]creds.Profile{
		"profile removed":         {Name: "dev", Session: "corp"},
		"source_profile loop":     {Name: "a"},
		"permission set taken":    {Name: "dev/Gone", AccountID: "111111111111", RoleName: "Gone", Session: "corp"},
		"account no longer known": {Name: "x/Admin", AccountID: "999999999999", RoleName: "Admin", Session: "corp"},
	} {
		if _, err := h.client.Fetch(ctx, p); !errors.Is(err, creds.ErrPermanent) {
			t.Errorf("%s: Fetch err = %v, want ErrPermanent", name, err)
		}
	}
	if _, err := h.client.Resolve(ctx, "nope", "", ""); !errors.Is(err, creds.ErrPermanent) {
		t.Errorf("Resolve of an unknown name: %v, want ErrPermanent", err)
	}
}
