package sso

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/private"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

const testConfig = `[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access

[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin
region = eu-west-1

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 222222222222
sso_role_name = ReadOnly

[profile keys]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
`

type harness struct {
	t       *testing.T
	fake    *fakeidc.Server
	client  *Client
	cfgPath string
	cache   string
	opened  chan string
	sleeps  chan time.Duration
	events  <-chan Event
}

// newHarness starts the fake Identity Center with two accounts and a
// client reaching it through the standard endpoint variables.
func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	gokeyring.MockInit()
	fake := fakeidc.New(
		fakeidc.Account{ID: "111111111111", Name: "dev", Email: "dev@example.com", Roles: []string{"Admin", "ReadOnly", "Deploy+Ops@team"}},
		fakeidc.Account{ID: "222222222222", Name: "prod", Email: "prod@example.com", Roles: []string{"ReadOnly"}},
		fakeidc.Account{ID: "333333333333", Name: "prod", Email: "prod2@example.com", Roles: []string{"Audit"}},
	)
	t.Cleanup(fake.Close)
	t.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", fake.URL)
	t.Setenv("AWS_ENDPOINT_URL_SSO", fake.URL)
	dir := t.TempDir()
	h := &harness{t: t, fake: fake, cfgPath: filepath.Join(dir, "config"), cache: filepath.Join(dir, "cache"),
		opened: make(chan string, 10), sleeps: make(chan time.Duration, 1000)}
	os.WriteFile(h.cfgPath, []byte(testConfig), 0o600)
	kr := keyring.New("rolecall-test-"+t.Name(), nil)
	t.Cleanup(kr.Close) // its probe loop, if any, ends before the next test's MockInit
	opts := Options{
		Keyring: kr, ConfigPath: h.cfgPath, CLICacheDir: h.cache,
		OpenBrowser: func(url string) error { h.opened <- url; return nil },
		// Polling sleeps are recorded and cut to a millisecond.
		Sleep: func(ctx context.Context, d time.Duration) error {
			select {
			case h.sleeps <- d:
			default: // nobody is reading them in this test
			}
			return sleep(ctx, time.Millisecond)
		},
	}
	if mod != nil {
		mod(&opts)
	}
	h.client = NewClient(opts)
	var stop func()
	h.events, stop = h.client.Subscribe()
	t.Cleanup(stop)
	return h
}

// nextLogin waits for the client's next login (or renewal) event.
func (h *harness) nextLogin() string {
	h.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-h.events:
			if ev.Login {
				return ev.Session
			}
		case <-timeout:
			h.t.Fatal("no login event within 10s")
			return ""
		}
	}
}

func (h *harness) session(name string) *Session {
	s, err := h.client.Session(context.Background(), name)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// approveInBrowser visits the verification URL as the fake xdg-open would.
func (h *harness) approveInBrowser() {
	url := <-h.opened
	resp, err := http.Get(url)
	if err != nil {
		h.t.Error(err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		h.t.Errorf("approval page: %s", resp.Status)
	}
}

func (h *harness) login() *Token {
	h.t.Helper()
	go h.approveInBrowser()
	tok, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func TestLoginAndFetch(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
		t.Fatalf("Fetch before login: %v, want ErrLoginRequired", err)
	}
	var prompt Prompt
	go h.approveInBrowser()
	tok, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{OnPrompt: func(p Prompt) { prompt = p }})
	if err != nil {
		t.Fatal(err)
	}
	if prompt.UserCode == "" || !strings.Contains(prompt.VerificationURIComplete, prompt.UserCode) {
		t.Errorf("prompt = %+v", prompt)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token: the registration must ask for sso:account:access and the refresh_token grant")
	}
	if s := h.nextLogin(); s != "corp" {
		t.Errorf("login event for %q", s)
	}
	c, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || c.AccountID != "111111111111" || c.RoleARN != "arn:aws:iam::111111111111:role/Admin" || time.Until(c.Expiration) < 50*time.Minute {
		t.Errorf("credentials = %+v", c)
	}
	// The token and registration are in the keyring, not in memory only.
	for _, e := range []string{tokenEntry("corp"), registrationEntry("corp")} {
		if _, err := gokeyring.Get("rolecall-test-"+t.Name(), e); err != nil {
			t.Errorf("keyring entry %s: %v", e, err)
		}
	}
	// A new client (a restart) needs no login.
	again := NewClient(h.client.opts)
	if _, err := again.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Errorf("after restart: %v", err)
	}
	if n := h.fake.Calls("RegisterClient"); n != 1 {
		t.Errorf("RegisterClient calls = %d, want 1", n)
	}
	// A second login reuses the registration.
	h.login()
	if n := h.fake.Calls("RegisterClient"); n != 1 {
		t.Errorf("RegisterClient calls after a second login = %d, want 1 (registration cached)", n)
	}
}

func TestConcurrentLoginsJoinOneFlow(t *testing.T) {
	h := newHarness(t, nil)
	var wg sync.WaitGroup
	toks := make([]*Token, 5)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{})
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		}()
	}
	// Approve only once all five joined: approved earlier, the flow could
	// end before a late caller joins it, and that caller would start a
	// second flow that nobody approves.
	h.waitWaiters("corp", len(toks))
	h.approveInBrowser()
	wg.Wait()
	for _, tok := range toks[1:] {
		if tok != toks[0] {
			t.Fatal("joined logins got different tokens")
		}
	}
	if n := h.fake.Calls("StartDeviceAuthorization"); n != 1 {
		t.Errorf("StartDeviceAuthorization = %d, want 1", n)
	}
	select {
	case url := <-h.opened:
		t.Errorf("a second browser tab was opened: %s", url)
	default:
	}
}

func TestSlowDownAddsFiveSeconds(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.Lock()
	h.fake.SlowDownNext = 2
	h.fake.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{})
		done <- err
	}()
	want := []time.Duration{time.Second, 6 * time.Second, 11 * time.Second}
	for i, w := range want {
		if got := <-h.sleeps; got != w {
			t.Errorf("poll %d waited %v, want %v", i, got, w)
		}
		if i == 1 {
			h.approveInBrowser()
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDeviceCodeOutcomes(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		h := newHarness(t, nil)
		h.fake.Lock()
		h.fake.DeviceCodeTTL = 0
		h.fake.Unlock()
		_, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{NoBrowser: true})
		if err == nil || !strings.Contains(err.Error(), "expired before it was approved") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("denied", func(t *testing.T) {
		h := newHarness(t, nil)
		go func() {
			url := <-h.opened
			h.fake.Deny(url[strings.LastIndex(url, "=")+1:])
		}()
		_, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{})
		if err == nil || !strings.Contains(err.Error(), "denied") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		h := newHarness(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := h.client.Login(ctx, h.session("corp"), LoginOptions{NoBrowser: true})
			done <- err
		}()
		<-h.sleeps // polling
		cancel()
		if err := <-done; !errors.Is(err, ErrLoginCancelled) {
			t.Fatalf("err = %v", err)
		}
		// The flow stops; an automatic login right after is refused.
		for h.client.state("corp").flowRunning(h.client) {
			time.Sleep(time.Millisecond)
		}
		if _, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{Automatic: true}); !errors.Is(err, ErrLoginCancelled) {
			t.Errorf("automatic login after a cancel: %v", err)
		}
	})
}

// waitWaiters waits (bounded) until n callers wait on session key's login.
func (h *harness) waitWaiters(key string, n int) {
	h.t.Helper()
	st := h.client.state(key)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		h.client.mu.Lock()
		got := 0
		if st.flow != nil {
			got = st.flow.waiters
		}
		h.client.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d callers joined the login, want %d", got, n)
		}
	}
}

func (st *sessionState) flowRunning(c *Client) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return st.flow != nil
}

func TestPortal401MeansLoginRequiredWithoutLoop(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	h.fake.RevokeAll()
	for range 3 {
		if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
			t.Fatalf("after revocation: %v", err)
		}
	}
	if n := h.fake.Calls("GetRoleCredentials"); n != 1 {
		t.Errorf("GetRoleCredentials = %d, want 1: a revoked token must not be retried", n)
	}
}

func TestSilentRenewal(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.Lock()
	h.fake.AccessTokenTTL = 10 * time.Minute // below renewBefore: renewed at next use
	h.fake.Unlock()
	first := h.login()
	h.nextLogin()
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	st := h.client.state("corp")
	if st.token.AccessToken == first.AccessToken {
		t.Error("token not renewed")
	}
	if n := h.fake.Calls("CreateToken"); n < 2 {
		t.Errorf("CreateToken = %d: no refresh-token grant", n)
	}
	// A refused renewal with an expired token: login required.
	h.fake.RevokeAll()
	st.token.ExpiresAt = time.Now().Add(-time.Minute)
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
		t.Errorf("after refused renewal: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	h.fake.Lock()
	h.fake.ThrottleNext = 3
	h.fake.Unlock()
	roles, needLogin, err := h.client.Roles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(needLogin) != 1 || needLogin[0] != "https://legacy.awsapps.com/start" {
		t.Errorf("needLogin = %v, want the legacy session", needLogin)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Kind+":"+r.Name)
	}
	want := "profile:dev profile:legacy discovered:dev/Admin discovered:dev/Deploy+Ops@team discovered:dev/ReadOnly discovered:prod (222222222222)/ReadOnly discovered:prod (333333333333)/Audit"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("roles:\n got %s\nwant %s", got, want)
	}
	calls := h.fake.Calls("ListAccounts")
	if calls < 2 {
		t.Errorf("ListAccounts calls = %d: paging (and throttling retries) expected", calls)
	}
	if _, _, err := h.client.Roles(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.fake.Calls("ListAccounts") != calls {
		t.Error("second listing did not come from the cache")
	}
}

func TestResolve(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	ctx := context.Background()
	tests := []struct {
		name, account, role string
		want                creds.Profile
		err                 string
	}{
		// A profile's region, and a discovered role's session region
		// (corp's sso_region), travel with the role.
		{name: "dev", want: creds.Profile{Name: "dev", Session: "corp", Region: "eu-west-1"}},
		{name: "dev/Deploy+Ops@team", want: creds.Profile{Name: "dev/Deploy+Ops@team", AccountID: "111111111111", RoleName: "Deploy+Ops@team", Session: "corp", Region: "eu-west-1"}},
		{account: "222222222222", role: "ReadOnly", want: creds.Profile{Name: "prod (222222222222)/ReadOnly", AccountID: "222222222222", RoleName: "ReadOnly", Session: "corp", Region: "eu-west-1"}},
		{name: "keys", err: "static keys are not served"},
		{name: "nope", err: "no profile named nope"},
		{account: "999999999999", role: "Admin", err: "no role Admin in account 999999999999"},
	}
	for _, tt := range tests {
		got, err := h.client.Resolve(ctx, tt.name, tt.account, tt.role)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Resolve(%q %q %q) err = %v, want %q", tt.name, tt.account, tt.role, err, tt.err)
			}
			continue
		}
		if tt.name == "dev" && got.Definition != "" {
			tt.want.Definition = got.Definition // a digest: TestEditedProfileIsAnotherRole
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q %q %q) = %+v, %v; want %+v", tt.name, tt.account, tt.role, got, err, tt.want)
			continue
		}
		if _, err := h.client.Fetch(ctx, got); err != nil {
			t.Errorf("Fetch(%+v): %v", got, err)
		}
	}
}

func TestAWSCLICacheInterop(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.WriteCLICache = true })
	tok := h.login()
	sum := sha1.Sum([]byte("corp"))
	path := filepath.Join(h.cache, hex.EncodeToString(sum[:])+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("cache not written back: %v", err)
	}
	// Mode 0600 on Unix, a current-user-only ACL on Windows.
	if err := private.Check(path); err != nil {
		t.Errorf("cache file: %v", err)
	}
	if strings.Contains(string(b), tok.RefreshToken) || strings.Contains(string(b), "clientSecret") {
		t.Errorf("the cache holds more than the access token: %s", b)
	}

	// A token written by `aws sso login` (older CLIs wrote "...UTC") is
	// used instead of a login, by a client with an empty keyring.
	other := newHarness(t, nil)
	other.login() // to get a valid access token from this fake
	cliTok := other.client.state("corp").token
	gokeyring.MockInit()
	os.MkdirAll(other.cache, 0o700)
	cache := `{"startUrl":"https://corp.awsapps.com/start","region":"eu-west-1","accessToken":"` + cliTok.AccessToken +
		`","expiresAt":"` + time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05UTC") + `"}`
	os.WriteFile(filepath.Join(other.cache, hex.EncodeToString(sum[:])+".json"), []byte(cache), 0o600)
	fresh := NewClient(other.client.opts)
	if _, err := fresh.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatalf("with the AWS CLI's token: %v", err)
	}
	// A cache file for another start URL is not used.
	gokeyring.MockInit()
	os.WriteFile(filepath.Join(other.cache, hex.EncodeToString(sum[:])+".json"),
		[]byte(strings.Replace(cache, "corp.awsapps", "elsewhere.awsapps", 1)), 0o600)
	if _, err := NewClient(other.client.opts).Fetch(context.Background(), creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
		t.Errorf("foreign cache file used: %v", err)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	if err := h.client.Logout(context.Background(), h.session("corp")); err != nil {
		t.Fatal(err)
	}
	if h.fake.Calls("Logout") != 1 {
		t.Error("portal Logout not called")
	}
	for _, e := range []string{tokenEntry("corp"), registrationEntry("corp")} {
		if _, err := gokeyring.Get("rolecall-test-"+t.Name(), e); !errors.Is(err, gokeyring.ErrNotFound) {
			t.Errorf("keyring entry %s left: %v", e, err)
		}
	}
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
		t.Errorf("after logout: %v", err)
	}
}

func TestNoKeyringStillLogsIn(t *testing.T) {
	h := newHarness(t, nil)
	gokeyring.MockInitWithError(errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	defer gokeyring.MockInit()
	defer h.client.opts.Keyring.Close()
	h.login()
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatalf("without a keyring: %v", err)
	}
	if h.client.opts.Keyring.Available() {
		t.Error("keyring reported available")
	}
}

func TestSessionChoice(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.client.Session(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "choose one with --sso-session") {
		t.Errorf("two sessions, none named: %v", err)
	}
	if _, err := h.client.Session(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), "[sso-session nope]") {
		t.Errorf("unknown session: %v", err)
	}
}
