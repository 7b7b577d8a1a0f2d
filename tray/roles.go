package tray

import (
	"cmp"
	"slices"
	"strings"

	"github.com/rolecall/rolecall/creds"
)

// roleIndex answers the menu's questions about roles.
type roleIndex struct {
	st     State
	byName map[string]Role
	loaded string
	// alias names a discovered role by the config profile that is the
	// same role (same account, role and session): the role is listed
	// once in Recent and Favourites, checked under both names, and its
	// account entry says the profile's name.
	alias map[string]string
	// accountName is the name of an account id, where a discovered role
	// says it.
	accountName map[string]string
}

func newRoleIndex(st State) *roleIndex {
	ix := &roleIndex{st: st, byName: make(map[string]Role, len(st.Roles)), alias: map[string]string{}, accountName: map[string]string{}}
	profiles := map[string]string{}
	for _, r := range st.Roles {
		ix.byName[r.Name] = r
		if r.Account == "" && r.AccountID != "" && r.Role != "" {
			profiles[r.AccountID+"/"+r.Role+"/"+r.Session] = r.Name
		}
		if r.Account != "" && r.AccountID != "" && r.Account != r.AccountID {
			ix.accountName[r.AccountID] = r.Account
		}
	}
	for _, r := range st.Roles {
		if p, ok := profiles[r.AccountID+"/"+r.Role+"/"+r.Session]; ok && r.Account != "" {
			ix.alias[r.Name] = p
		}
	}
	if st.Slots.Default != nil {
		ix.loaded = ix.same(st.Slots.Default.Profile.Name)
	}
	return ix
}

// same names a role for comparisons: its profile's name, when a profile
// is the same role as a discovered one. Entries keep the name they load.
func (ix *roleIndex) same(n string) string {
	if p, ok := ix.alias[n]; ok {
		return p
	}
	return n
}

func (ix *roleIndex) loggingIn(session string) bool {
	return slices.ContainsFunc(ix.st.Sessions, func(s Session) bool { return s.Key == session && s.LoggingIn })
}

// describe names a loaded role for the status line with what its name does
// not say: "payments-prod-admin — Payments Prod/Admin". Accounts are named
// in full (by name where known, else by the whole id).
func (ix *roleIndex) describe(p creds.Profile) string {
	r, ok := ix.byName[p.Name]
	if !ok {
		r = Role{Name: p.Name, AccountID: p.AccountID, Role: p.RoleName}
	}
	acct := cmp.Or(r.Account, ix.accountName[r.AccountID], r.AccountID)
	var what []string
	if acct != "" && !strings.Contains(r.Name, acct) {
		what = append(what, acct)
	}
	if r.Role != "" && !strings.Contains(r.Name, r.Role) {
		what = append(what, r.Role)
	}
	if len(what) == 0 {
		return r.Name
	}
	return r.Name + " — " + strings.Join(what, "/")
}

// item is a role's entry: it loads the role into the default slot and is
// checked while the role is there (under either of its names).
func (ix *roleIndex) item(key, label, name string) Item {
	return Item{Key: key, Label: label, Action: Action{Kind: ActLoad, Profile: name}, Checkable: true, Checked: ix.same(name) == ix.loaded}
}

// favorites are the starred roles: the first FavoritesInline at the top
// level, the ones after them in a submenu below them. A favourite that is
// no longer known is still listed (it may be discovered again), by its
// name.
func (ix *roleIndex) favorites() []Item {
	var items []Item
	seen := map[string]bool{}
	for _, name := range ix.st.Favorites {
		if n := ix.same(name); !seen[n] {
			seen[n] = true
			items = append(items, ix.item("fav", "★ "+fullLabel(ix.role(name)), name))
		}
	}
	if len(items) <= FavoritesInline {
		return items
	}
	more := items[FavoritesInline:]
	return append(items[:FavoritesInline:FavoritesInline], Item{Key: "favorites",
		Label: creds.Say(creds.MenuMoreFavorites, len(more)), Children: fold(more, "fav", labelOf)})
}

// recent is the submenu of the last roles loaded, most recent first.
func (ix *roleIndex) recent() Item {
	it := Item{Key: "recent", Label: creds.Say(creds.MenuRecent)}
	seen := map[string]bool{}
	for _, name := range ix.st.Recent {
		if len(it.Children) == RecentMax {
			break
		}
		n := ix.same(name)
		if _, ok := ix.byName[name]; ok && !seen[n] {
			seen[n] = true
			it.Children = append(it.Children, ix.item("recent", fullLabel(ix.byName[name]), name))
		}
	}
	return it
}

func (ix *roleIndex) role(name string) Role {
	if r, ok := ix.byName[name]; ok {
		return r
	}
	return Role{Name: name}
}

// account is a discovered account and its roles.
type account struct {
	name, id, session string
	roles             []Role
}

// groups are the discovered roles by account and "Profiles (n)", the config
// profiles. With one account its roles stand at the top level; with a
// handful, the accounts; with more, "All accounts (n)" in ranges. The
// accounts of two sessions are kept apart ("Accounts of corp (n)").
func (ix *roleIndex) groups() []Item {
	bySession := map[string][]*account{}
	var sessions []string
	byKey := map[string]*account{}
	var profiles []Item
	for _, r := range ix.st.Roles {
		if r.Account == "" {
			profiles = append(profiles, ix.item("", fullLabel(r), r.Name))
			continue
		}
		k := r.Session + "\x00" + r.AccountID + "\x00" + r.Account
		a := byKey[k]
		if a == nil {
			a = &account{name: r.Account, id: r.AccountID, session: r.Session}
			byKey[k] = a
			if len(bySession[r.Session]) == 0 {
				sessions = append(sessions, r.Session)
			}
			bySession[r.Session] = append(bySession[r.Session], a)
		}
		a.roles = append(a.roles, r)
	}
	slices.SortFunc(sessions, compareFold)
	var out []Item
	switch {
	case len(byKey) == 1:
		a := bySession[sessions[0]][0]
		slices.SortFunc(a.roles, func(x, y Role) int { return compareFold(x.Role, y.Role) })
		var roles []Item
		for _, r := range a.roles {
			roles = append(roles, ix.item("", ix.roleLabel(fullLabel(r), r), r.Name))
		}
		if len(roles) <= FavoritesInline {
			out = append(out, roles...)
		} else {
			out = append(out, ix.accountItem(a))
		}
	case len(byKey) <= AccountsInline:
		for _, s := range sessions {
			for _, a := range sortAccounts(bySession[s]) {
				out = append(out, ix.accountItem(a))
			}
		}
	case len(sessions) == 1:
		out = append(out, Item{Key: "accounts", Label: creds.Say(creds.MenuAllAccounts, len(byKey)),
			Children: ix.accountItems(bySession[sessions[0]], "accounts")})
	default:
		for _, s := range sessions {
			out = append(out, Item{Key: "accounts/" + s, Label: creds.Say(creds.MenuSessionAccounts, s, len(bySession[s])),
				Children: ix.accountItems(bySession[s], "accounts/"+s)})
		}
	}
	if len(profiles) > 0 {
		slices.SortFunc(profiles, func(a, b Item) int { return compareFold(a.Label, b.Label) })
		out = append(out, Item{Key: "profiles", Label: creds.Say(creds.MenuProfiles, len(profiles)), Children: fold(profiles, "profiles", labelOf)})
	}
	return out
}

func sortAccounts(as []*account) []*account {
	slices.SortFunc(as, func(a, b *account) int { return compareFold(a.name+" "+a.id, b.name+" "+b.id) })
	return as
}

// accountItems are the entries of accounts, folded into ranges labelled by
// whole account names.
func (ix *roleIndex) accountItems(as []*account, key string) []Item {
	var items []Item
	var names []string
	for _, a := range sortAccounts(as) {
		items = append(items, ix.accountItem(a))
		names = append(names, a.name)
	}
	return fold(items, key, func(i int, _ Item) string { return names[i] })
}

// accountItem is an account's entry: its one role, or a submenu of them.
func (ix *roleIndex) accountItem(a *account) Item {
	label := a.name
	if a.id != "" && a.id != a.name {
		label += " · " + a.id
	}
	slices.SortFunc(a.roles, func(x, y Role) int { return compareFold(x.Role, y.Role) })
	if len(a.roles) == 1 {
		return ix.item("", ix.roleLabel(label+" — "+a.roles[0].Role, a.roles[0]), a.roles[0].Name)
	}
	var roles []Item
	for _, r := range a.roles {
		roles = append(roles, ix.item("", ix.roleLabel(r.Role, r), r.Name))
	}
	return Item{Key: "acct/" + a.session + "/" + a.id + "/" + a.name, Label: label, Children: fold(roles, "acct/"+a.id, labelOf)}
}

// roleLabel is label, with the profile's name when a profile is the same
// role: "Admin (dev)".
func (ix *roleIndex) roleLabel(label string, r Role) string {
	if p, ok := ix.alias[r.Name]; ok {
		return creds.Say(creds.MenuOfSession, label, p)
	}
	return label
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

// labelOf names an entry in a range label by its whole label.
func labelOf(_ int, it Item) string { return it.Label }

// fold keeps a list within MaxLevel entries: a longer one becomes ranges
// of about equal size, nested when needed, each labelled by the whole
// names of its first and last entries ("logistics-prod – media-platform
// (25)"): cut names read as nonsense. items are sorted by name; name(i,
// it) is entry i's name.
func fold(items []Item, key string, name func(int, Item) string) []Item {
	if len(items) <= MaxLevel {
		return items
	}
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = name(i, it)
	}
	return foldNamed(items, names, key)
}

func foldNamed(items []Item, names []string, key string) []Item {
	if len(items) <= MaxLevel {
		return items
	}
	k := min(MaxLevel, (len(items)+MaxLevel-1)/MaxLevel)
	out := make([]Item, 0, k)
	for i := range k {
		lo, hi := i*len(items)/k, (i+1)*len(items)/k
		label := creds.Say(creds.MenuRange, names[lo], names[hi-1], hi-lo)
		sub := key + "/" + items[lo].Label
		out = append(out, Item{Key: sub, Label: label, Children: foldNamed(items[lo:hi], names[lo:hi], sub)})
	}
	return out
}

func compareFold(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
