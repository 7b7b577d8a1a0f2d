package tray

import (
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
)

func TestGrantItems(t *testing.T) {
	st := State{Grants: []creds.Grant{
		{Name: "my_agent", Slot: "Acme Dev/Admin", State: creds.GrantActive, LastUsed: now.Add(-3 * time.Minute), Uses: 4},
		{Name: "ide", Slot: "dev", State: creds.GrantActive},
		{Name: "ssh-me@devbox", Slot: "dev", State: creds.GrantActive}, // rolecall ssh's: its destination in the name
		{Name: "old", Slot: "dev", State: creds.GrantRevoked},
		{Name: "ci", Slot: "dev", State: creds.GrantExpired},
	}}
	got := render(Menu(st, now), 0)
	want := `(disabled) Grants
my__agent · Acme Dev/Admin · used 3m ago
  Revoke
ide · dev · never used
  Revoke
ssh-me@devbox · dev · never used
  Revoke
---
`
	if !strings.Contains(got, want) {
		t.Errorf("menu:\n%s\nwant the section:\n%s", got, want)
	}
	if strings.Contains(got, "old ·") || strings.Contains(got, "ci ·") {
		t.Errorf("ended grants shown:\n%s", got)
	}
	if none := render(Menu(State{}, now), 0); strings.Contains(none, "Grants") {
		t.Errorf("a Grants header without grants:\n%s", none)
	}
}
