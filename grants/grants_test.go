package grants

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeclock"
	"github.com/rolecall/rolecall/private"
)

// newClock is a fake clock at a fixed time the test moves.
func newClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
}

func open(t *testing.T, dir string, c *fakeclock.Clock) *Store {
	t.Helper()
	s, err := Open(dir, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAddCheckRevoke(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	g, secret, err := s.Add("ide-run", "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "ide-run" || g.Slot != "dev" || !g.Created.Equal(c.Now()) || !g.Expires.IsZero() {
		t.Errorf("grant = %+v", g)
	}
	if len(secret) != 43 {
		t.Errorf("secret of %d characters, want 43 (32 bytes base64url)", len(secret))
	}
	got, use, err := s.Check(secret)
	if err != nil || got.Name != "ide-run" || use == nil {
		t.Fatalf("Check = %+v, %v", got, err)
	}
	for _, bad := range []string{"", secret[:42], secret + "x", strings.ToUpper(secret)} {
		if _, _, err := s.Check(bad); !errors.Is(err, creds.ErrNoSuchGrant) {
			t.Errorf("Check(%q) = %v, want ErrNoSuchGrant", bad, err)
		}
	}
	if _, _, err := s.Add("ide-run", "prod", 0); err == nil || !strings.Contains(err.Error(), "rolecall grant revoke ide-run") {
		t.Errorf("second active grant of one name: %v", err)
	}
	c.Advance(time.Minute)
	r, err := s.Revoke("ide-run")
	if err != nil || !r.Revoked.Equal(c.Now()) {
		t.Fatalf("Revoke = %+v, %v", r, err)
	}
	g, _, err = s.Check(secret)
	if !errors.Is(err, creds.ErrGrantRevoked) || g.Name != "ide-run" {
		t.Errorf("Check after revoke = %+v, %v", g, err)
	}
	msg := creds.GrantAdvice(g, err)
	if !strings.Contains(msg, "revoked") || !strings.Contains(msg, "rolecall grant add ide-run --profile dev") {
		t.Errorf("advice: %s", msg)
	}
	if _, err := s.Revoke("ide-run"); !errors.Is(err, creds.ErrNoSuchGrant) {
		t.Errorf("revoking twice: %v", err)
	}
	// The name is free again; the old secret stays revoked.
	_, secret2, err := s.Add("ide-run", "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Check(secret2); err != nil {
		t.Errorf("new grant: %v", err)
	}
	if _, _, err := s.Check(secret); !errors.Is(err, creds.ErrGrantRevoked) {
		t.Errorf("old secret after a new grant of the name: %v", err)
	}
}

func TestOnChange(t *testing.T) {
	var changes int
	s, err := Open(t.TempDir(), Options{Now: newClock().Now, OnChange: func() { changes++ }})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, _ := s.Add("a", "dev", 0)
	if _, use, err := s.Check(secret); err == nil {
		use.Used("client") // a use is no change of the list
	}
	s.Revoke("a")
	if changes != 2 {
		t.Errorf("OnChange called %d times for an add and a revoke, want 2", changes)
	}
}

func TestExpiry(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	_, secret, err := s.Add("ci", "dev", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(2999 * time.Millisecond)
	if _, _, err := s.Check(secret); err != nil {
		t.Fatalf("before the end: %v", err)
	}
	c.Advance(time.Millisecond)
	g, _, err := s.Check(secret)
	if !errors.Is(err, creds.ErrGrantExpired) {
		t.Fatalf("at the end: %v", err)
	}
	if msg := creds.GrantAdvice(g, err); !strings.Contains(msg, "expired at 2026-03-01T09:00:03Z") || !strings.Contains(msg, "rolecall grant add ci --profile dev") {
		t.Errorf("advice: %s", msg)
	}
	// An expired name can be minted again.
	if _, _, err := s.Add("ci", "dev", time.Hour); err != nil {
		t.Errorf("new grant after expiry: %v", err)
	}
	// Ended grants are forgotten a week after they ended.
	c.Advance(keepEnded + time.Second)
	if _, _, err := s.Add("other", "dev", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Check(secret); !errors.Is(err, creds.ErrNoSuchGrant) {
		t.Errorf("a grant ended over a week ago: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	s := open(t, t.TempDir(), newClock())
	for _, tc := range []struct {
		name, slot string
		ttl        time.Duration
		want       string
	}{
		{"", "dev", 0, "grant name"},
		{"a b", "dev", 0, "grant name"},
		{"x;rm", "dev", 0, "grant name"},
		{strings.Repeat("a", 65), "dev", 0, "grant name"},
		{"ok", "dev", time.Millisecond, "--ttl"},
		{"ok", "dev", -time.Second, "--ttl"},
		{"ok", "", 0, "named slot"},
	} {
		if _, _, err := s.Add(tc.name, tc.slot, tc.ttl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%q, %q, %v) = %v, want %q", tc.name, tc.slot, tc.ttl, err, tc.want)
		}
	}
	if len(s.List()) != 0 {
		t.Errorf("refused adds left grants: %+v", s.List())
	}
}

func TestUsageAndRestart(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := open(t, dir, c)
	_, keep, err := s.Add("agent", "dev", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, gone, err := s.Add("old", "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke("old"); err != nil {
		t.Fatal(err)
	}
	_, use, _ := s.Check(keep)
	c.Advance(time.Minute)
	use.Used("/usr/bin/python3")
	use.Used("/usr/bin/python3")
	list := s.List()
	if len(list) != 2 || list[0].Name != "agent" || list[0].Uses != 2 || list[0].From != "/usr/bin/python3" || !list[0].LastUsed.Equal(c.Now()) {
		t.Fatalf("List = %+v", list)
	}
	if list[1].Name != "old" || list[1].State != creds.GrantRevoked {
		t.Errorf("revoked grant listed as %+v", list[1])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if err := private.Check(path); err != nil {
		t.Errorf("grants file: %v", err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), keep) || strings.Contains(string(b), gone) {
		t.Fatal("the grants file holds a secret")
	}

	// A restart keeps the grant, its usage and the revocation.
	s2 := open(t, dir, c)
	if g, _, err := s2.Check(keep); err != nil || g.Name != "agent" {
		t.Errorf("after a restart: %+v, %v", g, err)
	}
	if _, _, err := s2.Check(gone); !errors.Is(err, creds.ErrGrantRevoked) {
		t.Errorf("revoked after a restart: %v", err)
	}
	if l := s2.List(); l[0].Uses != 2 || l[0].From != "/usr/bin/python3" {
		t.Errorf("usage after a restart: %+v", l[0])
	}
	c.Advance(time.Hour)
	if _, _, err := s2.Check(keep); !errors.Is(err, creds.ErrGrantExpired) {
		t.Errorf("after its hour: %v", err)
	}
}

func TestDamagedFile(t *testing.T) {
	dir := t.TempDir()
	if err := private.WriteFile(filepath.Join(dir, FileName), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged file: %v", err)
	}
}

// TestConcurrentChecks runs checks, uses, adds and revokes at once (for
// -race): the credential path takes no lock.
func TestConcurrentChecks(t *testing.T) {
	c := newClock()
	s := open(t, t.TempDir(), c)
	_, secret, err := s.Add("a", "dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, use, err := s.Check(secret); err == nil {
					use.Used("client")
				}
			}
		}()
	}
	for i := range 20 {
		name := "g" + string(rune('a'+i))
		if _, _, err := s.Add(name, "dev", 0); err != nil {
			t.Error(err)
		}
		if _, err := s.Revoke(name); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if l := s.List(); l[0].Name != "a" || l[0].Uses != 800 {
		t.Errorf("uses = %+v", l[0])
	}
}

func BenchmarkCheck(b *testing.B) {
	s, _ := Open(b.TempDir(), Options{})
	for i := range 100 {
		s.Add("g"+string(rune('A'+i%26))+string(rune('a'+i/26)), "dev", 0)
	}
	_, secret, _ := s.Add("bench", "dev", 0)
	b.ReportAllocs()
	for b.Loop() {
		_, use, err := s.Check(secret)
		if err != nil {
			b.Fatal(err)
		}
		use.Used("client")
	}
}

// TestFlush: Flush writes the counts only when there were hand-outs
// since the last write.
func TestFlush(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	s := open(t, dir, c)
	_, secret, _ := s.Add("a", "dev", 0)
	path := filepath.Join(dir, FileName)
	os.Remove(path)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Flush without a hand-out wrote the file: %v", err)
	}
	_, use, _ := s.Check(secret)
	use.Used("client")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if l := open(t, dir, c).List(); len(l) != 1 || l[0].Uses != 1 || l[0].From != "client" {
		t.Errorf("after Flush the file holds %+v", l)
	}
}

// TestDefinitionKeptAcrossRestart: the role a grant was made for (its
// profile's definition then) is kept in grants.json, so a restart after an
// edit of the AWS config still tells the old role from the new.
func TestDefinitionKeptAcrossRestart(t *testing.T) {
	dir, c := t.TempDir(), fakeclock.New(time.Now())
	s := open(t, dir, c)
	if _, _, err := s.AddFor("agent", creds.Profile{Name: "dev", Definition: "sha256:abc"}, 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	found := false
	for _, g := range open(t, dir, c).List() {
		if g.Name == "agent" {
			found = true
			if g.Definition != "sha256:abc" {
				t.Errorf("after a restart: definition %q, want sha256:abc", g.Definition)
			}
		}
	}
	if !found {
		t.Error("the grant is gone after a restart")
	}
}
