package picker

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestNewestLinkWorks: links asked for in a row (clicks on "Find a role…")
// never make the newest one fail; past MaxLinks the oldest go.
func TestNewestLinkWorks(t *testing.T) {
	for _, n := range []int{20, 3 * MaxLinks} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := start(t, &fakeRoles{stars: map[string]bool{}})
			var ls []string
			for range n {
				ls = append(ls, s.Link())
			}
			get := func(link string) int {
				resp, err := http.Get(link)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if code := get(ls[n-1]); code != 200 {
				t.Errorf("the newest of %d links: %d", n, code)
			}
			if code := get(ls[n-2]); code != 200 {
				t.Errorf("the one before it: %d", code)
			}
			if n > MaxLinks {
				if code := get(ls[0]); code != 403 {
					t.Errorf("the oldest of %d links: %d, want 403 (dropped)", n, code)
				}
			}
		})
	}
}

// TestUnknownRole: the page acts only on the roles it lists; before, a
// name no role has was starred (and then stood in the menu).
func TestUnknownRole(t *testing.T) {
	f := &fakeRoles{stars: map[string]bool{}}
	s := start(t, f)
	c, origin := session(t, s)
	for _, action := range []string{"favorite", "load", "slot"} {
		req, _ := http.NewRequest("POST", origin+"/api/"+action, strings.NewReader(`{"name":"no-such/R\u00f4le","on":true}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.Contains(body["error"], "no role named") {
			t.Errorf("%s of an unknown name: %d %q", action, resp.StatusCode, body)
		}
	}
	if got := f.done(); len(got) != 0 {
		t.Errorf("actions %q on a name no role has", got)
	}
}

// TestRolesOrder: favourites first, then the roles used lately (the last
// first), then the rest as given.
func TestRolesOrder(t *testing.T) {
	f := &fakeRoles{stars: map[string]bool{}}
	opts := f.options()
	opts.Roles = func() []Role {
		return []Role{{Name: "a"}, {Name: "b", Recent: 2}, {Name: "c", Favorite: true}, {Name: "d", Recent: 1}, {Name: "e"},
			{Name: "f", Favorite: true, Recent: 3}}
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, origin := session(t, s)
	resp, err := c.Get(origin + "/api/roles")
	if err != nil {
		t.Fatal(err)
	}
	var roles []Role
	json.NewDecoder(resp.Body).Decode(&roles)
	resp.Body.Close()
	var got []string
	for _, r := range roles {
		got = append(got, r.Name)
	}
	if want := []string{"c", "f", "d", "b", "a", "e"}; !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}
