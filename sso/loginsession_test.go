package sso

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"github.com/rolecall/rolecall/private"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/logincreds"
	"github.com/aws/aws-sdk-go-v2/service/signin"
	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeclock"
	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/keyring"
)

const (
	loginARN    = "arn:aws:sts::111111111111:assumed-role/Admin/alice"
	loginConfig = `# my profiles
[profile me]
login_session = ` + loginARN + `
region = eu-west-1

[profile other]
region = us-east-1
output = json
`
)

// loginHarness is the fake sign-in service, a client reaching it through
// AWS_ENDPOINT_URL_SIGNIN, and one clock for both.
type loginHarness struct {
	t                *testing.T
	fake             *fakeidc.Server
	client           *Client
	cfg              string
	dir              string // the login cache directory
	*fakeclock.Clock        // the client's, the fake's and the manager's time
}

func newLoginHarness(t *testing.T) *loginHarness {
	t.Helper()
	gokeyring.MockInit()
	h := &loginHarness{t: t, Clock: fakeclock.New(time.Now().Truncate(time.Second))}
	h.fake = fakeidc.New()
	t.Cleanup(h.fake.Close)
	h.fake.Now = h.Now
	t.Setenv("AWS_ENDPOINT_URL_SIGNIN", h.fake.URL)
	dir := t.TempDir()
	h.cfg, h.dir = filepath.Join(dir, "config"), filepath.Join(dir, "login", "cache")
	os.WriteFile(h.cfg, []byte(loginConfig), 0o600)
	h.client = NewClient(Options{
		Keyring: keyring.New("rolecall-test-"+t.Name(), nil), ConfigPath: h.cfg, LoginCacheDir: h.dir,
		CLICacheDir: filepath.Join(dir, "sso"), Now: h.Now, PKCEWait: 10 * time.Second,
		Graphical: func() bool { return true },
	})
	return h
}

// cacheFile writes the CLI's cache file of session as `aws login` leaves
// it and returns its path.
func (h *loginHarness) cacheFile(session string) string {
	h.t.Helper()
	name, b, err := h.fake.SigninCache(session)
	if err != nil {
		h.t.Fatal(err)
	}
	os.MkdirAll(h.dir, 0o700)
	path := filepath.Join(h.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

func (h *loginHarness) fetch(name string) (creds.Credentials, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return h.client.Fetch(ctx, creds.Profile{Name: name})
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLoginCacheName: the file is named as the AWS CLI names it (the
// cross-SDK test case of SIGNIN-WIRE §1).
func TestLoginCacheName(t *testing.T) {
	if got := loginCacheName(" arn:aws:sts::012345678910:assumed-role/Admin/admin "); got != "4b0ba8f99f075c0633e122fd73346ce203a3faf18ea0310eb2d29df1bab2e255.json" {
		t.Errorf("loginCacheName = %s", got)
	}
}

// TestLoginProfilesAreRoles: a login_session profile and a chain on it
// are roles; a login_session without region is skipped with the reason.
func TestLoginProfilesAreRoles(t *testing.T) {
	h := newLoginHarness(t)
	os.WriteFile(h.cfg, []byte(loginConfig+`
[profile deploy]
role_arn = arn:aws:iam::222222222222:role/Deploy
source_profile = me

[profile noregion]
login_session = arn:aws:iam::111111111111:user/bob
`), 0o600)
	roles, _, err := h.client.Roles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range roles {
		got[r.Name] = r.Session
	}
	if got["me"] != loginARN || got["deploy"] != loginARN {
		t.Errorf("roles = %v, want me and deploy of %s", got, loginARN)
	}
	cfg, _ := h.client.config(context.Background())
	// The SDK's loader refuses this chain; rolecall resolves it itself.
	rp, err := cfg.resolve(context.Background(), "deploy")
	if err != nil || rp.RoleARN != "arn:aws:iam::222222222222:role/Deploy" || rp.src == nil || rp.src.LoginSession != loginARN {
		t.Errorf("deploy resolves to %+v (%v), want the role on the login session", rp, err)
	}
	if why := cfg.Skipped["noregion"]; why != skipLoginNoRegion {
		t.Errorf("noregion skipped for %q", why)
	}
	if ls := cfg.LoginSessions[loginARN]; ls == nil || ls.Profile() != "me" || ls.Region != "eu-west-1" {
		t.Errorf("login session = %+v", ls)
	}
}

// TestLoginRefreshAheadForAnHour: over an hour of fake clock, with the
// manager's rule (refresh at lifetime - MinAge), the login profile is
// fetched every 3 minutes, every answer has at least 12 minutes left
// (botocore's 10-minute mandatory refresh never fires), and the file the
// AWS CLI reads holds the refresh token in force, every field kept.
func TestLoginRefreshAheadForAnHour(t *testing.T) {
	h := newLoginHarness(t)
	path := h.cacheFile(loginARN)
	before := readJSON(t, path)
	cur, err := h.fetch("me")
	if err != nil {
		t.Fatal(err)
	}
	start := h.Now()
	fetches := 0
	for h.Now().Sub(start) < time.Hour {
		h.Advance(30 * time.Second)
		now := h.Now()
		if left := cur.Expiration.Sub(now); left < 12*time.Minute {
			t.Fatalf("at +%v the slot holds credentials with %v left", now.Sub(start), left)
		}
		if now.Before(creds.RefreshAt(cur, creds.DefaultRefreshWindow)) {
			continue
		}
		next, err := h.fetch("me")
		if err != nil {
			t.Fatalf("at +%v: %v", now.Sub(start), err)
		}
		if next.AccessKeyID == cur.AccessKeyID || next.Expiration.Sub(now) < 14*time.Minute {
			t.Fatalf("at +%v the fetch gave the same or old credentials (%v left)", now.Sub(start), next.Expiration.Sub(now))
		}
		cur = next
		fetches++
	}
	if fetches != 20 || h.fake.Calls("CreateOAuth2Token.refresh_token.ok") != 20 {
		t.Errorf("%d fetches, %d refreshes in an hour; want 20 (every 3 minutes)", fetches, h.fake.Calls("CreateOAuth2Token.refresh_token.ok"))
	}
	after := readJSON(t, path)
	for _, k := range []string{"idToken", "dpopKey", "clientId", "tokenType"} {
		if after[k] != before[k] {
			t.Errorf("%s changed or dropped by the write-back: %v", k, after[k])
		}
	}
	if after["refreshToken"] == before["refreshToken"] {
		t.Error("the file still holds the used-up refresh token")
	}
	at := after["accessToken"].(map[string]any)
	if at["accessKeyId"] != cur.AccessKeyID || at["expiresAt"] != cur.Expiration.UTC().Format("2006-01-02T15:04:05Z") || at["accountId"] != "111111111111" {
		t.Errorf("accessToken in the file = %v, want the credentials served", at)
	}
	if err := private.Check(path); err != nil { // 0600, or owner-only on Windows
		t.Errorf("cache file: %v", err)
	}
}

// TestLoginOneRefreshPerSession: many slots asking at once cause one
// refresh; a slot asking within MinAge of it gets the same credentials.
func TestLoginOneRefreshPerSession(t *testing.T) {
	h := newLoginHarness(t)
	h.cacheFile(loginARN)
	h.Advance(4 * time.Minute) // the file's credentials are due
	var wg sync.WaitGroup
	keys := make(chan string, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := h.fetch("me")
			if err != nil {
				t.Error(err)
				return
			}
			keys <- c.AccessKeyID
		}()
	}
	wg.Wait()
	close(keys)
	seen := map[string]bool{}
	for k := range keys {
		seen[k] = true
	}
	if n := h.fake.Calls("CreateOAuth2Token.refresh_token.ok"); n != 1 || len(seen) != 1 {
		t.Errorf("16 concurrent fetches: %d refreshes, %d different keys; want 1 and 1", n, len(seen))
	}
}

// TestLoginSharedWithTheGoSDK: after rolecall rotated the refresh token,
// aws-sdk-go-v2's own login provider (the reader that follows the AWS
// CLI's rules for the file) refreshes with the file's token; rolecall then
// reads the file it rewrote and refreshes with the token the SDK left.
func TestLoginSharedWithTheGoSDK(t *testing.T) {
	h := newLoginHarness(t)
	path := h.cacheFile(loginARN)
	h.Advance(4 * time.Minute)
	if _, err := h.fetch("me"); err != nil {
		t.Fatal(err)
	}
	// Time passes for the SDK too: it refreshes only expired credentials.
	m := readJSON(t, path)
	m["accessToken"].(map[string]any)["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	b, _ := json.Marshal(m)
	os.WriteFile(path, b, 0o600)
	sdk := logincreds.New(signin.New(signin.Options{Region: "eu-west-1", BaseEndpoint: aws.String(h.fake.URL)}), path)
	got, err := sdk.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("the Go SDK's provider cannot use the file rolecall wrote: %v", err)
	}
	if n := h.fake.Calls("CreateOAuth2Token.refresh_token.ok"); n != 2 {
		t.Fatalf("%d refreshes, want rolecall's and the SDK's", n)
	}
	h.Advance(4 * time.Minute)
	c, err := h.fetch("me")
	if err != nil {
		t.Fatalf("rolecall after the SDK rotated the token: %v", err)
	}
	if c.AccessKeyID == got.AccessKeyID || h.fake.Calls("CreateOAuth2Token.error.refresh_rotated") != 0 {
		t.Errorf("rolecall did not refresh with the SDK's token (rotated refusals: %d)", h.fake.Calls("CreateOAuth2Token.error.refresh_rotated"))
	}
	st, _ := h.client.Status(context.Background())
	if len(st) != 1 || st[0].Ends.IsZero() {
		t.Errorf("status %+v: the session's end is forgotten once the SDK dropped the idToken", st)
	}
}

// TestLoginSessionEndedOnce: TOKEN_EXPIRED is login required, asked once;
// a new sign-in (a new cache file) ends it.
func TestLoginSessionEndedOnce(t *testing.T) {
	h := newLoginHarness(t)
	h.cacheFile(loginARN)
	h.Advance(13 * time.Hour)
	for i := range 3 {
		_, err := h.fetch("me")
		if !errors.Is(err, creds.ErrLoginRequired) {
			t.Fatalf("fetch %d: %v, want login required", i, err)
		}
		want := "the `aws login` session of alice in 111111111111 has ended (sessions last up to 12 hours): run `rolecall login --profile me`"
		if got := creds.Advice("me", err); !strings.HasPrefix(got, want) {
			t.Errorf("advice %q", got)
		}
	}
	if n := h.fake.Calls("CreateOAuth2Token.error.TOKEN_EXPIRED"); n != 1 {
		t.Errorf("the service was asked %d times, want once", n)
	}
	st, _ := h.client.Status(context.Background())
	if len(st) != 1 || st[0].SignedIn || st[0].Kind != KindLogin || st[0].Profile != "me" {
		t.Errorf("status %+v, want a login session not signed in", st)
	}
	h.cacheFile(loginARN) // `aws login` again
	if _, err := h.fetch("me"); err != nil {
		t.Errorf("after a new sign-in: %v", err)
	}
}

// TestLoginRefusals: each refusal reads as what to do.
func TestLoginRefusals(t *testing.T) {
	for _, tt := range []struct {
		code, want string
		sentinel   error
	}{
		{"USER_CREDENTIALS_CHANGED", "ended because the password changed: run `rolecall login --profile me`", creds.ErrLoginRequired},
		{"INSUFFICIENT_PERMISSIONS", "SignInLocalDevelopmentAccess", creds.ErrPermanent},
	} {
		t.Run(tt.code, func(t *testing.T) {
			h := newLoginHarness(t)
			h.cacheFile(loginARN)
			h.fake.Lock()
			h.fake.Signin().Fail[""] = tt.code
			h.fake.Unlock()
			h.Advance(4 * time.Minute)
			_, err := h.fetch("me")
			if !errors.Is(err, tt.sentinel) || !strings.Contains(creds.Advice("me", err), tt.want) {
				t.Errorf("%v (advice %q), want %v saying %q", err, creds.Advice("me", err), tt.sentinel, tt.want)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		h := newLoginHarness(t)
		h.cacheFile(loginARN)
		h.fake.Lock()
		h.fake.Outage = true
		h.fake.Unlock()
		h.Advance(4 * time.Minute)
		_, err := h.fetch("me")
		if err == nil || errors.Is(err, creds.ErrLoginRequired) || !strings.Contains(err.Error(), "cannot reach the AWS sign-in service at 127.0.0.1") {
			t.Errorf("%v, want a transient error naming the service", err)
		}
	})
}

// TestLoginCacheUnusable: a PKCS#8 key, a key that is no PEM, missing
// fields: an error naming the file and what to do, never a crash.
func TestLoginCacheUnusable(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pkcs8 := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	for _, tt := range []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"pkcs8", func(m map[string]any) { m["dpopKey"] = pkcs8 }, "PKCS#8"},
		{"not pem", func(m map[string]any) { m["dpopKey"] = "garbage" }, "not a PEM key"},
		{"no refresh token", func(m map[string]any) { delete(m, "refreshToken") }, "missing refreshToken"},
		{"no expiry", func(m map[string]any) { delete(m["accessToken"].(map[string]any), "expiresAt") }, "missing accessToken.expiresAt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newLoginHarness(t)
			path := h.cacheFile(loginARN)
			m := readJSON(t, path)
			tt.edit(m)
			b, _ := json.Marshal(m)
			os.WriteFile(path, b, 0o600)
			_, err := h.fetch("me")
			msg := creds.Advice("me", err)
			if !errors.Is(err, creds.ErrLoginRequired) || !strings.Contains(msg, path) || !strings.Contains(msg, tt.want) || !strings.Contains(msg, "rolecall login --profile me") {
				t.Errorf("advice %q, want the file, %q and what to do", msg, tt.want)
			}
		})
	}
	t.Run("no file", func(t *testing.T) {
		h := newLoginHarness(t)
		_, err := h.fetch("me")
		if !errors.Is(err, creds.ErrLoginRequired) || !strings.Contains(err.Error(), "rolecall login --profile me") {
			t.Errorf("%v", err)
		}
	})
}

// TestLoginShortCoordinateKey: a key whose X has a leading zero byte is
// proved with the coordinate padded to 32 bytes (RFC 7518): the thumbprint
// the service binds the refresh token to is the same whoever pads.
func TestLoginShortCoordinateKey(t *testing.T) {
	var key *ecdsa.PrivateKey
	for key == nil {
		key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if p, _ := key.PublicKey.Bytes(); p[1] != 0 {
			key = nil // X must start with a zero byte
		}
	}
	proof, err := dpopProof(key, "POST", "https://eu-west-1.signin.aws.amazon.com/v1/token", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(proof, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ JWK struct{ X, Y string } }
	json.Unmarshal(b, &hdr)
	if len(hdr.JWK.X) != 43 || len(hdr.JWK.Y) != 43 {
		t.Errorf("jwk x = %q, y = %q: want 43 base64url characters each (32 bytes)", hdr.JWK.X, hdr.JWK.Y)
	}
}

// TestLoginSignInSameDevice: the browser (here an HTTP client following
// the redirects) signs in; the code comes back to the loopback listener;
// the cache file is written as the CLI writes it and the new profile is
// added to the config with its other lines kept.
func TestLoginSignInSameDevice(t *testing.T) {
	h := newLoginHarness(t)
	h.fake.Lock()
	h.fake.Signin().Session = "arn:aws:iam::111111111111:user/bob"
	h.fake.Unlock()
	var opened string
	res, err := h.client.SignIn(context.Background(), "bob", SigninOptions{Region: "eu-west-1", Open: func(u string) {
		opened = u
		go page(t, u)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(opened, h.fake.URL+"/v1/authorize?response_type=code&client_id=arn%3Aaws%3Asignin%3A%3A%3Adevtools%2Fsame-device&state=") {
		t.Errorf("authorize URL %s", opened)
	}
	if res.Session != "arn:aws:iam::111111111111:user/bob" || res.Ends.IsZero() {
		t.Errorf("result %+v", res)
	}
	m := readJSON(t, filepath.Join(h.dir, loginCacheName(res.Session)))
	if m["clientId"] != sameDeviceClient || m["idToken"] == "" || !strings.HasPrefix(m["dpopKey"].(string), "-----BEGIN EC PRIVATE KEY-----\n") {
		t.Errorf("cache file %v", m)
	}
	cfg, _ := os.ReadFile(h.cfg)
	if !strings.HasPrefix(string(cfg), loginConfig) || !strings.HasSuffix(string(cfg), "\n[profile bob]\nlogin_session = arn:aws:iam::111111111111:user/bob\nregion = eu-west-1\n") {
		t.Errorf("config after sign-in:\n%s", cfg)
	}
	if _, err := h.fetch("bob"); err != nil {
		t.Errorf("the new profile: %v", err)
	}
}

// TestLoginSignInCrossDevice: the sign-in URL is shown; the user opens it
// elsewhere and pastes the code the confirmation page shows.
func TestLoginSignInCrossDevice(t *testing.T) {
	h := newLoginHarness(t)
	h.fake.Lock()
	h.fake.Signin().Session = loginARN
	h.fake.Unlock()
	prompts := make(chan Prompt, 1)
	done := make(chan error, 1)
	go func() {
		_, err := h.client.SignIn(context.Background(), "me", SigninOptions{CrossDevice: true, OnPrompt: func(p Prompt) { prompts <- p }})
		done <- err
	}()
	p := <-prompts
	if !strings.Contains(p.VerificationURI, "client_id=arn%3Aaws%3Asignin%3A%3A%3Adevtools%2Fcross-device") {
		t.Errorf("URL %s", p.VerificationURI)
	}
	if _, err := fakeidc.ConfirmationCode(page(t, p.VerificationURI)); err != nil {
		t.Fatal(err)
	}
	if err := h.client.SigninCode("me", "not-the-code"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "not the code the sign-in page shows") {
		t.Fatalf("a wrong code: %v", err)
	}
	go func() {
		_, err := h.client.SignIn(context.Background(), "me", SigninOptions{CrossDevice: true, OnPrompt: func(p Prompt) { prompts <- p }})
		done <- err
	}()
	p = <-prompts
	code, _ := fakeidc.ConfirmationCode(page(t, p.VerificationURI))
	if err := h.client.SigninCode("me", code+"\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	m := readJSON(t, filepath.Join(h.dir, loginCacheName(loginARN)))
	if m["clientId"] != crossDeviceClient {
		t.Errorf("clientId %v", m["clientId"])
	}
	if cfg, _ := os.ReadFile(h.cfg); string(cfg) != loginConfig {
		t.Errorf("the profile said so already, yet the config changed:\n%s", cfg)
	}
	if _, err := h.fetch("me"); err != nil {
		t.Error(err)
	}
}

// page is the page the browser ends on at url.
func page(t *testing.T, url string) string {
	_, body, _ := browse(t, url, true)
	return body
}

// TestWithLoginProfile: the profile is added or edited as `aws login`
// does, every other line kept.
func TestWithLoginProfile(t *testing.T) {
	const arn = "arn:aws:iam::1:user/x"
	for _, tt := range []struct{ name, in, profile, want string }{
		{"empty", "", "x", "[profile x]\nlogin_session = " + arn + "\nregion = r\n"},
		{"appended", "[profile a]\nregion = q", "x", "[profile a]\nregion = q\n\n[profile x]\nlogin_session = " + arn + "\nregion = r\n"},
		{"existing with region", "[profile x] # mine\nregion = q\noutput = json\n[profile b]\n", "x",
			"[profile x] # mine\nlogin_session = " + arn + "\nregion = q\noutput = json\n[profile b]\n"},
		{"other principal", "[profile x]\nlogin_session = arn:aws:iam::1:user/old\nregion = q\n", "x",
			"[profile x]\nlogin_session = " + arn + "\nregion = q\n"},
		{"default", "[default]\noutput = json\n", "default", "[default]\nregion = r\nlogin_session = " + arn + "\noutput = json\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := withLoginProfile(tt.in, tt.profile, arn, "r"); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestLoginSeenWhenTheCLISignsIn: a session that needed a login is
// published as signed in once `aws login` writes its file; an unchanged
// file is not read again.
func TestLoginSeenWhenTheCLISignsIn(t *testing.T) {
	h := newLoginHarness(t)
	events, stop := h.client.Subscribe()
	defer stop()
	if _, err := h.fetch("me"); !errors.Is(err, creds.ErrLoginRequired) {
		t.Fatalf("without a file: %v", err)
	}
	h.client.CheckLoginSessions(context.Background())
	select {
	case ev := <-events:
		t.Fatalf("event %+v without a change", ev)
	default:
	}
	h.cacheFile(loginARN)
	h.client.CheckLoginSessions(context.Background())
	select {
	case ev := <-events:
		if ev.Session != loginARN || !ev.Login {
			t.Errorf("event %+v, want a login of %s", ev, loginARN)
		}
	default:
		t.Fatal("no event after `aws login` wrote the file")
	}
	h.client.CheckLoginSessions(context.Background())
	select {
	case ev := <-events:
		t.Errorf("event %+v for a file read already", ev)
	default:
	}
}

// TestLoginSignInCancelled: a cancelled sign-in is not started again by
// itself at once (the tray's automatic sign-in), but is when asked.
func TestLoginSignInCancelled(t *testing.T) {
	h := newLoginHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	opened := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		_, err := h.client.SignIn(ctx, "me", SigninOptions{Open: func(u string) { opened <- u }})
		done <- err
	}()
	<-opened
	cancel() // the only caller went away: the sign-in stops
	if err := <-done; !errors.Is(err, ErrLoginCancelled) {
		t.Fatalf("%v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		h.client.mu.Lock()
		running := h.client.signinFlows["me"] != nil
		h.client.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sign-in did not stop")
		}
	}
	if _, err := h.client.SignIn(context.Background(), "me", SigninOptions{Automatic: true, Open: func(string) { t.Error("a browser opened by itself after a cancel") }}); !errors.Is(err, ErrLoginCancelled) {
		t.Errorf("automatic sign-in right after a cancel: %v", err)
	}
	_, err := h.client.SignIn(context.Background(), "me", SigninOptions{Open: func(u string) { go page(t, u) }})
	if err != nil {
		t.Errorf("a sign-in the user asked for: %v", err)
	}
}
