package tray

import (
	"fmt"
	"slices"
	"strings"
)

// roleIndex answers the menu's questions about roles.
type roleIndex struct {
	st     State
	byName map[string]Role
	loaded string
}

func newRoleIndex(st State) *roleIndex {
	ix := &roleIndex{st: st, byName: make(map[string]Role, len(st.Roles))}
	for _, r := range st.Roles {
		ix.byName[r.Name] = r
	}
	if st.Slots.Default != nil {
		ix.loaded = st.Slots.Default.Profile.Name
	}
	return ix
}

func (ix *roleIndex) loggingIn(session string) bool {
	return slices.ContainsFunc(ix.st.Sessions, func(s Session) bool { return s.Key == session && s.LoggingIn })
}

// item is a role's entry: it loads the role into the default slot and is
// checked while the role is there.
func (ix *roleIndex) item(key, label, name string) Item {
	return Item{Key: key, Label: label, Action: Action{Kind: ActLoad, Profile: name}, Checkable: true, Checked: name == ix.loaded}
}

// favorites are the starred roles: at the top level when few, in a
// submenu when many. A favourite that is no longer known is still listed
// (it may be discovered again), by its name.
func (ix *roleIndex) favorites() []Item {
	var items []Item
	for _, name := range ix.st.Favorites {
		items = append(items, ix.item("fav", "★ "+fullLabel(ix.role(name)), name))
	}
	if len(items) <= FavoritesInline {
		return items
	}
	return []Item{{Key: "favorites", Label: fmt.Sprintf("Favourites (%d)", len(items)), Children: fold(items, "fav")}}
}

// recent is the submenu of the last roles loaded, most recent first.
func (ix *roleIndex) recent() Item {
	it := Item{Key: "recent"}
	for _, name := range ix.st.Recent {
		if len(it.Children) == RecentMax {
			break
		}
		if _, ok := ix.byName[name]; ok {
			it.Children = append(it.Children, ix.item("recent", fullLabel(ix.byName[name]), name))
		}
	}
	it.Label = "Recent"
	return it
}

func (ix *roleIndex) role(name string) Role {
	if r, ok := ix.byName[name]; ok {
		return r
	}
	return Role{Name: name}
}

// groups are "All accounts (n)", discovered roles by account, and
// "Profiles (n)", the config profiles; each folded into ranges.
func (ix *roleIndex) groups() []Item {
	type account struct {
		name, id string
		roles    []Role
	}
	byAccount := map[string]*account{}
	var accounts []*account
	var profiles []Item
	for _, r := range ix.st.Roles {
		if r.Account == "" {
			profiles = append(profiles, ix.item("", fullLabel(r), r.Name))
			continue
		}
		k := r.AccountID + "\x00" + r.Account
		a := byAccount[k]
		if a == nil {
			a = &account{name: r.Account, id: r.AccountID}
			byAccount[k] = a
			accounts = append(accounts, a)
		}
		a.roles = append(a.roles, r)
	}
	slices.SortFunc(accounts, func(a, b *account) int { return compareFold(a.name+" "+a.id, b.name+" "+b.id) })
	var out []Item
	if len(accounts) > 0 {
		var items []Item
		for _, a := range accounts {
			label := a.name
			if a.id != "" && a.id != a.name {
				label += " · " + a.id
			}
			slices.SortFunc(a.roles, func(x, y Role) int { return compareFold(x.Role, y.Role) })
			if len(a.roles) == 1 {
				items = append(items, ix.item("", label+" — "+a.roles[0].Role, a.roles[0].Name))
				continue
			}
			var roles []Item
			for _, r := range a.roles {
				roles = append(roles, ix.item("", r.Role, r.Name))
			}
			items = append(items, Item{Key: "acct/" + a.id + "/" + a.name, Label: label, Children: fold(roles, "acct/"+a.id)})
		}
		out = append(out, Item{Key: "accounts", Label: fmt.Sprintf("All accounts (%d)", len(accounts)), Children: fold(items, "accounts")})
	}
	if len(profiles) > 0 {
		slices.SortFunc(profiles, func(a, b Item) int { return compareFold(a.Label, b.Label) })
		out = append(out, Item{Key: "profiles", Label: fmt.Sprintf("Profiles (%d)", len(profiles)), Children: fold(profiles, "profiles")})
	}
	return out
}

// Label names a role with what its name does not say: "dev —
// 111111111111/Admin", "Acme Dev/Admin — 111111111111".
func Label(r Role) string { return fullLabel(r) }

func fullLabel(r Role) string {
	var acct []string
	for _, s := range []string{r.Account, r.AccountID} {
		if s != "" && !strings.Contains(r.Name, s) && !slices.Contains(acct, s) {
			acct = append(acct, s)
		}
	}
	what := strings.Join(acct, " ")
	if r.Role != "" && !strings.Contains(r.Name, r.Role) {
		if what != "" {
			what += "/"
		}
		what += r.Role
	}
	if what == "" {
		return r.Name
	}
	return r.Name + " — " + what
}

// fold keeps a list within MaxLevel entries: a longer one becomes ranges
// ("acme-a – acme-f (25)") of about equal size, nested when needed. items
// are sorted by label.
func fold(items []Item, key string) []Item {
	if len(items) <= MaxLevel {
		return items
	}
	k := min(MaxLevel, (len(items)+MaxLevel-1)/MaxLevel)
	out := make([]Item, 0, k)
	for i := range k {
		lo, hi := i*len(items)/k, (i+1)*len(items)/k
		part := items[lo:hi]
		prev, next := "", ""
		if lo > 0 {
			prev = items[lo-1].Label
		}
		if hi < len(items) {
			next = items[hi].Label
		}
		first, last := part[0].Label, part[len(part)-1].Label
		n := max(prefixLen(first, prev), prefixLen(last, next))
		label := fmt.Sprintf("%s – %s (%d)", cut(first, n), cut(last, n), len(part))
		sub := key + "/" + first
		out = append(out, Item{Key: sub, Label: label, Children: fold(part, sub)})
	}
	return out
}

// prefixLen is the length of the shortest start of s that tells it from
// its neighbour across a range boundary (at least one letter). Both ends of
// a range are cut to the longer of their two lengths: "acct-075 –
// acct-099", not "acct-075 – acct-0".
func prefixLen(s, neighbour string) int {
	rs, rn := []rune(strings.ToLower(s)), []rune(strings.ToLower(neighbour))
	n := 0
	for n < len(rs) && n < len(rn) && rs[n] == rn[n] {
		n++
	}
	return n + 1
}

func cut(s string, n int) string {
	r := []rune(s)
	return strings.TrimSpace(string(r[:min(n, len(r))]))
}

func compareFold(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
