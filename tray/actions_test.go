//go:build cgo || !darwin

package tray

import (
	"testing"

	"github.com/rolecall/rolecall/creds"
)

// TestUnknownActionFails: a click the actions do not know is reported to
// Failed, not dropped (it moved here from the root's action tests).
func TestUnknownActionFails(t *testing.T) {
	var failed error
	Actions{Failed: func(_ Action, err error) { failed = err }}.Do(Action{Kind: ActionKind(999)})
	if failed == nil {
		t.Error("an unknown action did not fail")
	}
}

// TestRevokeGrantAction: a grant's Revoke item carries the grant's name to
// the action.
func TestRevokeGrantAction(t *testing.T) {
	st := State{Grants: []creds.Grant{{Name: "my_agent", Slot: "Acme Dev/Admin", State: creds.GrantActive}}}
	var revoked string
	a := Actions{RevokeGrant: func(name string) error { revoked = name; return nil }}
	for _, it := range Menu(st, now) {
		if it.Key == "grant/my_agent" {
			a.Do(it.Children[0].Action)
		}
	}
	if revoked != "my_agent" {
		t.Errorf("Revoke revoked %q", revoked)
	}
}
