package sso

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeclock"
)

func (h *harness) status(key string) SessionStatus {
	h.t.Helper()
	all, err := h.client.Status(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, s := range all {
		if s.Key == key {
			return s
		}
	}
	h.t.Fatalf("no session %s in %+v", key, all)
	return SessionStatus{}
}

// TestSignInTimeIsTheSessions: the sign-in time belongs to the session:
// set by a login (however started), kept through renewals and by a login
// that joins the session the browser still has; the predicted end is the
// sign-in plus the session length, and a session that ended early does not
// shorten the next one. A forced login starts a new Identity Center session.
func TestSignInTimeIsTheSessions(t *testing.T) {
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Second))
	h := newHarness(t, func(o *Options) { o.Now = clk.Now })
	h.fake.Lock()
	h.fake.Now, h.fake.SessionTTL, h.fake.AccessTokenTTL = clk.Now, 8*time.Hour, time.Hour
	h.fake.Unlock()
	ctx := context.Background()
	t0 := clk.Now()
	h.login()
	st := h.status("corp")
	if !st.SignedInAt.Equal(t0) || !st.Ends.Equal(t0.Add(8*time.Hour)) || !st.Renewable {
		t.Fatalf("after login: signed in %v, ends %v (renewable %v); want %v and 8 h later", st.SignedInAt, st.Ends, st.Renewable, t0)
	}

	// Renewals keep it.
	for range 7 {
		clk.Advance(time.Hour)
		if _, err := h.client.Fetch(ctx, creds.Profile{Name: "dev"}); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.status("corp"); !st.SignedInAt.Equal(t0) || !st.Ends.Equal(t0.Add(8*time.Hour)) {
		t.Errorf("after renewals: signed in %v, ends %v; want %v", st.SignedInAt, st.Ends, t0)
	}

	// Signing in again joins the browser's session: its end does not move.
	tok := h.login()
	if started, _ := h.fake.SessionStarted(tok.AccessToken); !started.Equal(t0) {
		t.Fatalf("the fake started a new session at %v on a second login", started)
	}
	if st := h.status("corp"); !st.SignedInAt.Equal(t0) {
		t.Errorf("a login into the same session moved the sign-in to %v", st.SignedInAt)
	}

	// A forced login ends it (portal Logout) and starts a new one.
	logouts := h.fake.Calls("Logout")
	clk.Advance(10 * time.Minute)
	t1 := clk.Now()
	go h.approveInBrowser()
	tok, err := h.client.Login(ctx, h.session("corp"), LoginOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.fake.Calls("Logout"); n != logouts+1 {
		t.Errorf("Logout calls = %d, want %d", n, logouts+1)
	}
	if started, _ := h.fake.SessionStarted(tok.AccessToken); !started.Equal(t1) {
		t.Errorf("forced login: the Identity Center session started %v, want %v", started, t1)
	}
	if st := h.status("corp"); !st.SignedInAt.Equal(t1) || !st.Ends.Equal(t1.Add(8*time.Hour)) {
		t.Errorf("forced login: signed in %v, ends %v; want %v and 8 h later", st.SignedInAt, st.Ends, t1)
	}

	// A session ended early (revoked after 1 h) shortens nothing later.
	clk.Advance(time.Hour)
	h.fake.RevokeAll()
	clk.Advance(time.Hour) // the access token expired: renewal refused
	if _, err := h.client.Fetch(ctx, creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
		t.Fatalf("after the revocation: %v, want login required", err)
	}
	t2 := clk.Now()
	h.login()
	if st := h.status("corp"); !st.SignedInAt.Equal(t2) || !st.Ends.Equal(t2.Add(8*time.Hour)) {
		t.Errorf("after an early end: signed in %v, ends %v; want %v and a full 8 h", st.SignedInAt, st.Ends, t2)
	}
}

// TestAWSCLISignInTime: a token `aws sso login` left in the CLI's cache
// is a sign-in too: when the file was written; it ends with its token
// (rolecall cannot renew it).
func TestAWSCLISignInTime(t *testing.T) {
	h := newHarness(t, nil)
	if err := os.MkdirAll(h.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	path := h.client.cliCachePath(h.session("corp"))
	writeCLIFile(t, path, `{"startUrl":"https://corp.awsapps.com/start","region":"eu-west-1","accessToken":"cli-access",`+
		`"expiresAt":"`+exp.Format(time.RFC3339)+`","refreshToken":"cli-own","clientId":"cli-client"}`)
	written := time.Now().Add(-20 * time.Minute)
	if err := os.Chtimes(path, written, written); err != nil {
		t.Fatal(err)
	}
	st := h.status("corp")
	if !st.SignedIn || !st.SignedInAt.Equal(written.UTC().Truncate(time.Second)) || !st.Ends.Equal(exp) {
		t.Errorf("after aws sso login: %+v; want signed in at %v, ending %v", st, written, exp)
	}
}
