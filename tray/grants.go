package tray

import (
	"time"

	"github.com/rolecall/rolecall/creds"
)

// grantItems are the grants in force: "my-agent · dev · used 3m ago",
// each with Revoke one level below. Ended grants are not shown (`rolecall
// grant list` shows them).
func grantItems(grants []creds.Grant, now time.Time) []Item {
	var m []Item
	for _, g := range grants {
		if g.State != creds.GrantActive {
			continue
		}
		if len(m) == 0 {
			m = append(m, Item{Separator: true}, Item{Label: "Grants", Disabled: true})
		}
		if len(m) == MaxLevel {
			m = append(m, Item{Label: "More grants: rolecall grant list", Disabled: true})
			break
		}
		used := "never used"
		if !g.LastUsed.IsZero() {
			used = "used " + ago(now.Sub(g.LastUsed))
		}
		m = append(m, Item{Key: "grant/" + g.Name, Label: g.Name + " · " + g.Slot + " · " + used, Children: []Item{
			{Label: "Revoke", Action: Action{Kind: ActRevokeGrant, Grant: g.Name}},
		}})
	}
	return m
}

// ago writes how long ago as people read it: "just now", "3m ago", "2h05m ago".
func ago(d time.Duration) string {
	if d < time.Minute {
		return "just now"
	}
	return left(d) + " ago"
}
