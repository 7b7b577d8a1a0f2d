package sso

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/keyring"
)

// gatedKeyring is go-keyring's mock behind a gate: a Get waits until the
// gate opens, like the Secret Service while the login keyring unlocks.
type gatedKeyring struct {
	entered chan struct{} // gets a value at every Get
	open    chan struct{}
}

func (g gatedKeyring) Get(svc, user string) (string, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.open
	return gokeyring.Get(svc, user)
}
func (g gatedKeyring) Set(svc, user, v string) error { return gokeyring.Set(svc, user, v) }
func (g gatedKeyring) Delete(svc, user string) error { return gokeyring.Delete(svc, user) }

// Two pinned slots of one session at start: every caller waits for the
// one load of the stored token; none is told "login required".
func TestStartupLoadIsSharedByConcurrentCallers(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	gate := gatedKeyring{entered: make(chan struct{}, 1), open: make(chan struct{})}
	opts := h.client.opts
	opts.Keyring = keyring.NewWith("rolecall-test-"+t.Name(), gate, nil)
	restarted := NewClient(opts)
	const callers = 5
	errs := make(chan error, callers)
	var started sync.WaitGroup
	for range callers {
		started.Add(1)
		go func() {
			started.Done()
			_, err := restarted.Fetch(context.Background(), creds.Profile{Name: "dev"})
			errs <- err
		}()
	}
	started.Wait()
	<-gate.entered                                                   // the first caller reads the keyring ...
	time.AfterFunc(50*time.Millisecond, func() { close(gate.open) }) // ... slowly
	for range callers {
		select {
		case err := <-errs:
			if err != nil {
				t.Errorf("Fetch during the start-up load: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Fetch did not return")
		}
	}
}

// A keyring that is locked at start is an error worth retrying, not
// "login required"; once it answers, the stored token is used.
func TestLockedKeyringAtStartIsNotLoginRequired(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	gokeyring.MockInitWithError(errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'"))
	restarted := NewClient(h.client.opts)
	_, err := restarted.Fetch(context.Background(), creds.Profile{Name: "dev"})
	if err == nil || errors.Is(err, creds.ErrLoginRequired) || !errors.Is(err, keyring.ErrLocked) {
		t.Fatalf("Fetch with a locked keyring: %v, want ErrLocked and not login required", err)
	}
	if n := h.fake.Calls("StartDeviceAuthorization"); n != 1 {
		t.Errorf("a login was started: %d", n)
	}
	// Unlocked: the mock's store is gone with MockInitWithError, so the
	// token is stored again, as the keyring held it all along.
	gokeyring.MockInit()
	h.client.saveJSON(tokenEntry("corp"), h.client.state("corp").token)
	if _, err := restarted.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatalf("Fetch after the unlock: %v", err)
	}
}

// TestLockedKeyringDoesNotPauseDiscovery: a discovered role asked for
// while the keyring is locked resolves as soon as it is unlocked: the
// keyring not handing over the token is not Identity Center failing, so
// it does not hold discovery back for the pause that failures get (the
// day-in-the-life locked-keyring start served the default slot 30 s
// late).
func TestLockedKeyringDoesNotPauseDiscovery(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the keyring's 5 s probe; make test runs it")
	}
	h := newHarness(t, nil)
	h.login()
	// The same store behind a lock the test turns (swapping go-keyring's
	// mock while the keyring's probe reads it would race).
	lk := &lockable{locked: true}
	opts := h.client.opts
	opts.Keyring = keyring.NewWith("rolecall-test-"+t.Name(), lk, nil)
	restarted := NewClient(opts)
	if _, err := restarted.Resolve(context.Background(), "dev/Admin", "", ""); !errors.Is(err, keyring.ErrLocked) {
		t.Fatalf("Resolve with a locked keyring: %v, want ErrLocked", err)
	}
	lk.set(false)
	// The keyring's own probe (every 5 s while locked) finds it open.
	select {
	case <-restarted.opts.Keyring.Answers():
	case <-time.After(15 * time.Second):
		t.Fatal("the keyring never said it answers again")
	}
	if _, err := restarted.Resolve(context.Background(), "dev/Admin", "", ""); err != nil {
		t.Fatalf("Resolve right after the unlock: %v", err)
	}
}

// lockable is go-keyring's store behind a lock: while locked it answers
// as a locked Secret Service collection does.
type lockable struct {
	mu     sync.Mutex
	locked bool
}

func (l *lockable) set(locked bool) { l.mu.Lock(); l.locked = locked; l.mu.Unlock() }

func (l *lockable) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.locked {
		return errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'")
	}
	return nil
}

func (l *lockable) Get(service, user string) (string, error) {
	if err := l.err(); err != nil {
		return "", err
	}
	return gokeyring.Get(service, user)
}

func (l *lockable) Set(service, user, password string) error {
	if err := l.err(); err != nil {
		return err
	}
	return gokeyring.Set(service, user, password)
}

func (l *lockable) Delete(service, user string) error {
	if err := l.err(); err != nil {
		return err
	}
	return gokeyring.Delete(service, user)
}

// `aws sso login` while rolecall runs: a session found without a token is
// looked up again when the AWS CLI's cache file changes.
func TestCLILoginWhileRunningIsSeen(t *testing.T) {
	h := newHarness(t, nil)
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
		t.Fatalf("before any login: %v", err)
	}
	// The AWS CLI signs in on its own (its own registration and storage).
	opts := h.client.opts
	opts.Keyring = keyring.New("rolecall-test-cli-"+t.Name(), nil)
	cli := NewClient(opts)
	go h.approveInBrowser()
	tok, err := cli.Login(context.Background(), h.session("corp"), LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(h.cache, 0o700); err != nil {
		t.Fatal(err)
	}
	writeCLIFile(t, h.client.cliCachePath(h.session("corp")), `{"startUrl":"https://corp.awsapps.com/start","region":"eu-west-1","accessToken":"`+
		tok.AccessToken+`","expiresAt":"`+tok.ExpiresAt.Format(time.RFC3339)+`","refreshToken":"cli-own","clientId":"cli-client"}`)
	if _, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatalf("Fetch after `aws sso login`: %v", err)
	}
}

func writeCLIFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A 401 for a token that a login replaced meanwhile deletes nothing: the
// new token stays in memory and in the keyring (a restart uses it).
func TestStale401KeepsNewerToken(t *testing.T) {
	h := newHarness(t, nil)
	old := h.login()
	fresh := h.login()
	if old.AccessToken == fresh.AccessToken {
		t.Fatal("the fake gave the same token twice")
	}
	s := h.session("corp")
	h.client.forgetToken(s, old) // the 401 of a call made with the old token
	if got := h.client.state("corp").token; got == nil || got.AccessToken != fresh.AccessToken {
		t.Errorf("token in memory after a stale 401: %+v", got)
	}
	restarted := NewClient(h.client.opts)
	if _, err := restarted.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Errorf("after a restart: %v (the keyring lost the new token)", err)
	}
	// The token that failed is deleted when it is the one kept.
	h.client.forgetToken(s, fresh)
	if _, err := h.client.opts.Keyring.Get(tokenEntry("corp")); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("refused token left in the keyring: %v", err)
	}
}

// unsetenv removes key for the rest of the test.
func unsetenv(t *testing.T, key string) {
	t.Setenv(key, "")
	os.Unsetenv(key)
}

// cli_cache_writeback keeps what the AWS CLI put in its cache file (its
// refresh token and registration) and replaces only the access token.
func TestCLICacheWritebackKeepsCLIFields(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.WriteCLICache = true })
	path := h.client.cliCachePath(h.session("corp"))
	os.MkdirAll(h.cache, 0o700)
	writeCLIFile(t, path, `{"startUrl":"https://corp.awsapps.com/start","region":"eu-west-1","accessToken":"old-cli-access",`+
		`"expiresAt":"2020-01-01T00:00:00Z","refreshToken":"cli-refresh","clientId":"cli-client","clientSecret":"cli-secret",`+
		`"registrationExpiresAt":"2030-01-01T00:00:00Z","futureField":{"x":1}}`)
	tok := h.login()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", "accessToken": tok.AccessToken,
		"expiresAt": tok.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"), "refreshToken": "cli-refresh",
		"clientId": "cli-client", "clientSecret": "cli-secret", "registrationExpiresAt": "2030-01-01T00:00:00Z",
		"futureField": map[string]any{"x": float64(1)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cache file after writeback:\n got %v\nwant %v", got, want)
	}
}

// appearingKeyring is go-keyring's mock behind a switch: while missing,
// every call fails as without a Secret Service on the bus.
type appearingKeyring struct{ missing *atomic.Bool }

func (a appearingKeyring) err() error {
	if a.missing.Load() {
		return errors.New("The name org.freedesktop.secrets was not provided by any .service files")
	}
	return nil
}
func (a appearingKeyring) Get(svc, user string) (string, error) {
	if err := a.err(); err != nil {
		return "", err
	}
	return gokeyring.Get(svc, user)
}
func (a appearingKeyring) Set(svc, user, v string) error {
	if err := a.err(); err != nil {
		return err
	}
	return gokeyring.Set(svc, user, v)
}
func (a appearingKeyring) Delete(svc, user string) error {
	if err := a.err(); err != nil {
		return err
	}
	return gokeyring.Delete(svc, user)
}

// TestStoredTokenSeenWhenKeyringAppears: rolecall started before the
// Secret Service (a login session whose keyring comes up late). The
// session has no token meanwhile; once the keyring is there, the token it
// holds is used at the next fetch, not a minute later (the clock does not
// move here) and not never.
func TestStoredTokenSeenWhenKeyringAppears(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	var missing atomic.Bool
	missing.Store(true)
	opts := h.client.opts
	kr := keyring.NewWith("rolecall-test-"+t.Name(), appearingKeyring{&missing}, nil)
	t.Cleanup(kr.Close)
	opts.Keyring = kr
	now := time.Now()
	opts.Now = func() time.Time { return now }
	restarted := NewClient(opts)
	if _, err := restarted.Fetch(context.Background(), creds.Profile{Name: "dev"}); !errors.Is(err, creds.ErrLoginRequired) {
		t.Fatalf("Fetch before the keyring is there: %v, want login required", err)
	}
	missing.Store(false)
	select {
	case <-kr.Answers():
	case <-time.After(20 * time.Second):
		t.Fatal("the keyring was not probed again")
	}
	if _, err := restarted.Fetch(context.Background(), creds.Profile{Name: "dev"}); err != nil {
		t.Fatalf("Fetch once the keyring holding the token is there: %v", err)
	}
}

// TestStatusDoesNotWaitForALoad: the tray draws its menu (Status) while
// a slot's fetch waits on the keyring for the session's token; the menu
// is drawn from memory at once, not after the keyring answers.
func TestStatusDoesNotWaitForALoad(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	// One session: the keyring holds one call at a time, so a second
	// session's read would queue behind the first (bounded by the
	// keyring's timeout, once: after it the keyring is known not to
	// answer and answers at once).
	one := testConfig[:strings.Index(testConfig, "[profile legacy]")]
	if err := os.WriteFile(h.cfgPath, []byte(one), 0o600); err != nil {
		t.Fatal(err)
	}
	gate := gatedKeyring{entered: make(chan struct{}, 1), open: make(chan struct{})}
	opts := h.client.opts
	kr := keyring.NewWith("rolecall-test-"+t.Name(), gate, nil)
	opts.Keyring = kr
	restarted := NewClient(opts)
	fetched := make(chan error, 1)
	go func() {
		_, err := restarted.Fetch(context.Background(), creds.Profile{Name: "dev"})
		fetched <- err
	}()
	<-gate.entered // the fetch's load waits in the keyring
	drawn := make(chan []SessionStatus, 1)
	go func() {
		st, _ := restarted.Status(context.Background())
		drawn <- st
	}()
	select {
	case st := <-drawn:
		for _, s := range st {
			if s.SignedIn {
				t.Errorf("session %s shown signed in before its token was read", s.Key)
			}
		}
	case <-time.After(10 * time.Second):
		t.Error("Status waited for the keyring")
	}
	close(gate.open)
	if err := <-fetched; err != nil {
		t.Errorf("Fetch: %v", err)
	}
	kr.Close()
}
