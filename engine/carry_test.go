package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// fakeSessions signs out of any session (control.Sessions for Logout).
type fakeSessions struct{ control.Sessions }

func (fakeSessions) Logout(_ context.Context, session string) (string, error) { return session, nil }

// carryRun starts an engine on dir over the keyring backend g, with the
// default slot remembered in state.json and pinned slots; fetches count
// the fetches of that run; while offline is set no name resolves.
func carryRun(t *testing.T, dir string, g *gatedKeyring, fetches *atomic.Int32, offline *atomic.Bool, pinned ...string) *Engine {
	t.Helper()
	st := settings.Defaults()
	st.Port, st.Pinned = 0, pinned
	e, err := Start(context.Background(), Config{
		Settings: st, SettingsPath: filepath.Join(dir, "config.toml"), StateDir: filepath.Join(dir, "state"),
		Socket: filepath.Join(dir, "run", "control.sock"), Sessions: fakeSessions{},
		Fetcher: creds.FetcherFunc(func(_ context.Context, p creds.Profile) (creds.Credentials, error) {
			n := fetches.Add(1)
			now := time.Now()
			return creds.Credentials{
				AccessKeyID: "ASIAIOSFODNN7EXAMPL" + string(rune('A'+n)), SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
				SessionToken: "fake-session-token-" + p.Name, Issued: now, Expiration: now.Add(time.Hour),
			}, nil
		}),
		Resolve: func(_ context.Context, r control.LoadRequest) (creds.Profile, error) {
			if offline.Load() {
				return creds.Profile{}, errors.New("list accounts: dial tcp: connection refused")
			}
			return creds.Profile{Name: r.Profile, Session: strings.SplitN(r.Profile, "/", 2)[0], Definition: "role " + r.Profile}, nil
		},
		Keyring: keyring.NewWith("rolecall-test", g, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// openKeyring is an empty keyring backend that answers at once.
func openKeyring() *gatedKeyring {
	g := &gatedKeyring{open: make(chan struct{}), m: map[string]string{}}
	close(g.open)
	return g
}

// entries returns the carried entries g holds, by profile name.
func (g *gatedKeyring) entries(t *testing.T) map[string]carriedCreds {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	got := map[string]carriedCreds{}
	for k, v := range g.m {
		name, ok := strings.CutPrefix(k, "role-credentials:")
		if !ok {
			continue
		}
		var cc carriedCreds
		if err := json.Unmarshal([]byte(v), &cc); err != nil {
			t.Fatalf("entry %s: %v", k, err)
		}
		got[name] = cc
	}
	return got
}

// waitEntries waits until the keyring holds the entries of exactly names.
func waitEntries(t *testing.T, g *gatedKeyring, names ...string) map[string]carriedCreds {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := g.entries(t)
		ok := len(got) == len(names)
		for _, n := range names {
			_, has := got[n]
			ok = ok && has
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("keyring holds the credentials of %v, want %v", entryNames(got), names)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func entryNames(m map[string]carriedCreds) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestRestartServesCarriedCredentials: the credentials of the default
// slot and of the pinned ones are kept in the keyring, and a restart
// serves them without a fetch; a slot switched or unloaded takes its
// entry along, and a logout deletes its session's entries, so that they
// do not come back at the next start.
func TestRestartServesCarriedCredentials(t *testing.T) {
	dir := t.TempDir()
	g := openKeyring()
	var first atomic.Int32
	var offline atomic.Bool
	e := carryRun(t, dir, g, &first, &offline, "corp/ReadOnly", "lab/Admin")
	if err := e.Load("corp/Admin", false); err != nil {
		t.Fatal(err)
	}
	if err := e.Load("corp/Other", true); err != nil { // named, not pinned: not kept
		t.Fatal(err)
	}
	held := waitEntries(t, g, "corp/Admin", "corp/ReadOnly", "lab/Admin")
	if got := held["corp/Admin"]; got.Profile.Definition != "role corp/Admin" || got.Creds.SessionToken != "fake-session-token-corp/Admin" {
		t.Errorf("kept %+v", got)
	}
	def, _ := e.manager.Lookup(creds.DefaultSlot)
	e.Close()
	waitState := func(e *Engine, slot string) creds.Slot {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if s, ok := e.manager.Lookup(slot); ok && s.State != creds.StateRefreshing {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("slot %q still fetching", slot)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	var second atomic.Int32
	e = carryRun(t, dir, g, &second, &offline, "corp/ReadOnly", "lab/Admin")
	for _, slot := range []string{creds.DefaultSlot, "corp/ReadOnly", "lab/Admin"} {
		if s := waitState(e, slot); s.State != creds.StateOK {
			t.Fatalf("restored slot %q: %+v", slot, s)
		}
	}
	if n := second.Load(); n != 0 {
		t.Errorf("%d fetches after the restart, want none: the credentials were kept", n)
	}
	got, _ := e.manager.Lookup(creds.DefaultSlot)
	if got.Creds.AccessKeyID != def.Creds.AccessKeyID || !got.Creds.Expiration.Equal(def.Creds.Expiration) {
		t.Errorf("default slot after the restart serves %s until %v, want %s until %v",
			got.Creds.MaskedKeyID(), got.Creds.Expiration, def.Creds.MaskedKeyID(), def.Creds.Expiration)
	}
	req, _ := http.NewRequest(http.MethodGet, e.listener.URL(), nil)
	req.Header.Set("Authorization", e.secrets.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / after the restart: %d", resp.StatusCode)
	}

	// Switched away and unloaded: their entries go.
	if err := e.Load("lab/Admin", false); err != nil {
		t.Fatal(err)
	}
	if err := e.Unload("corp/ReadOnly"); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, g, "lab/Admin")
	// A logout takes its session's entries along.
	if err := e.Logout("lab"); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, g)
	e.Close()

	var third atomic.Int32
	e = carryRun(t, dir, g, &third, &offline, "lab/Admin")
	if s := waitState(e, "lab/Admin"); s.State != creds.StateOK || third.Load() == 0 {
		t.Errorf("after the logout the restart served %+v with %d fetches: want fetched anew", s, third.Load())
	}
	waitEntries(t, g, "lab/Admin")
	e.Close()

	// Restarted offline: the pinned slot's name does not resolve, its
	// entry is not read yet, and a logout still deletes it.
	offline.Store(true)
	var fourth atomic.Int32
	e = carryRun(t, dir, g, &fourth, &offline, "lab/Admin")
	if s := waitState(e, "lab/Admin"); s.State != creds.StateError {
		t.Fatalf("offline restart: %+v, want an error (the name does not resolve)", s)
	}
	if err := e.Logout("lab"); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, g)
}

// carriedSlot is a slot holding fake credentials of profile name (session
// before the slash), valid one hour.
func carriedSlot(slot, name string, pinned bool) creds.Slot {
	now := time.Now()
	return creds.Slot{Name: slot, Pinned: pinned, State: creds.StateOK,
		Profile: creds.Profile{Name: name, Session: strings.SplitN(name, "/", 2)[0], Definition: "role " + name},
		Creds: creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			SessionToken: "fake", Issued: now, Expiration: now.Add(time.Hour)}}
}

// TestCarrierKeepsAndForgets: the carrier keeps the default slot and the
// first carriedPins pinned slots by name, not the rest nor unpinned
// slots; a forget deletes its session's entries at once, without waiting
// for a sync, and those not read yet.
func TestCarrierKeepsAndForgets(t *testing.T) {
	g := openKeyring()
	k := keyring.NewWith("rolecall-test", g, nil)
	t.Cleanup(k.Close)
	c := newCarrier(k, slog.New(slog.DiscardHandler))
	def := carriedSlot(creds.DefaultSlot, "lab/Admin", false)
	st := creds.State{Default: &def}
	var want []string
	for i := range carriedPins + 8 {
		name := fmt.Sprintf("corp/Role%02d", i)
		st.Named = append(st.Named, carriedSlot(name, name, true))
		if i < carriedPins {
			want = append(want, name)
		}
	}
	st.Named = append(st.Named, carriedSlot("zz/Unpinned", "zz/Unpinned", false))
	c.sync(func() creds.State { return st })
	waitEntries(t, g, append(want, "lab/Admin")...)

	g.Set("", carriedEntry("lab/Unread"), `{"profile":{"name":"lab/Unread","session":"lab"}}`)
	c.expect([]string{"lab/Unread"})
	c.forget("corp")
	waitEntries(t, g, "lab/Admin")
	c.forget("lab")
	waitEntries(t, g)
}

// TestLogoutHoldsWhenTheDeleteDidNotLand: the sign-out is in state.json
// when the logout returns, and credentials issued before it are fetched
// anew at the next start even if their keyring entry is still there.
func TestLogoutHoldsWhenTheDeleteDidNotLand(t *testing.T) {
	dir := t.TempDir()
	g := openKeyring()
	var offline atomic.Bool
	var first atomic.Int32
	e := carryRun(t, dir, g, &first, &offline, "lab/Admin")
	if err := e.Load("lab/Admin", true); err != nil {
		t.Fatal(err)
	}
	entry := waitEntries(t, g, "lab/Admin")["lab/Admin"]
	g.mu.Lock()
	saved := g.m[carriedEntry("lab/Admin")]
	g.mu.Unlock()
	if err := e.Logout("lab"); err != nil {
		t.Fatal(err)
	}
	var st remembered
	b, _ := os.ReadFile(filepath.Join(dir, "state", stateFileName))
	if err := json.Unmarshal(b, &st); err != nil || st.SignedOut["lab"].IsZero() {
		t.Fatalf("state.json after the logout: %s (%v), want the sign-out of lab", b, err)
	}
	e.Close()
	g.Set("", carriedEntry("lab/Admin"), saved) // as if the delete had not landed

	var second atomic.Int32
	e = carryRun(t, dir, g, &second, &offline, "lab/Admin")
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := e.manager.Lookup("lab/Admin")
		if s.State == creds.StateOK {
			if s.Creds.Expiration.Equal(entry.Creds.Expiration) || second.Load() != 1 {
				t.Errorf("after the logout the restart served %s after %d fetches, want fetched anew", s.Creds.MaskedKeyID(), second.Load())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lab/Admin not served: %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
