package engine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/settings"
)

// TestLoginSessionEndedPromptsSignIn: an `aws login` session the sign-in
// service ended (TOKEN_EXPIRED) makes its slot login-required once and,
// with a person at the desktop, opens the sign-in in the browser (the
// tray's prompt); signing in there serves the slot again.
func TestLoginSessionEndedPromptsSignIn(t *testing.T) {
	gokeyring.MockInit()
	const arn = "arn:aws:sts::111111111111:assumed-role/Admin/alice"
	fake := fakeidc.New()
	defer fake.Close()
	fake.Lock()
	fake.Signin().Session = arn
	fake.Unlock()
	dir := t.TempDir()
	cfg, cache := filepath.Join(dir, "aws-config"), filepath.Join(dir, "login")
	os.WriteFile(cfg, []byte("[profile me]\nlogin_session = "+arn+"\nregion = us-east-1\n"), 0o600)
	os.MkdirAll(cache, 0o700)
	name, contents, err := fake.SigninCache(arn)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cache, name), contents, 0o600)
	for k, v := range map[string]string{"AWS_CONFIG_FILE": cfg, "AWS_LOGIN_CACHE_DIRECTORY": cache, "AWS_ENDPOINT_URL_SIGNIN": fake.URL,
		"DISPLAY": ":0", "SSH_CONNECTION": "", "SSH_TTY": ""} {
		t.Setenv(k, v)
	}

	var mu sync.Mutex
	var opened []string
	st := settings.Defaults()
	st.Port = 0
	e, err := Start(context.Background(), Config{
		Settings: st, SettingsPath: filepath.Join(dir, "config.toml"), StateDir: filepath.Join(dir, "state"),
		Socket: filepath.Join(dir, "run", "control.sock"), Keyring: keyring.New("rolecall-test", nil), Interactive: true,
		OpenURL: func(page string) error {
			go func() { // the browser: our page, then the sign-in page, which redirects to rolecall
				u, err := follow(page)
				if err != nil {
					return
				}
				mu.Lock()
				opened = append(opened, u)
				mu.Unlock()
				if resp, err := http.Get(u); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Load("me", false); err != nil {
		t.Fatal(err)
	}
	first := waitSlot(t, e.manager, creds.DefaultSlot, creds.StateOK)

	// The session ends; the AWS CLI meanwhile rewrote the file (its
	// credentials ten minutes old): the next refresh asks the service.
	fake.Lock()
	fake.Signin().Fail[arn] = "TOKEN_EXPIRED"
	fake.Unlock()
	var file map[string]any
	json.Unmarshal(contents, &file)
	file["accessToken"].(map[string]any)["expiresAt"] = time.Now().Add(5 * time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	contents, _ = json.Marshal(file)
	os.WriteFile(filepath.Join(cache, name), contents, 0o600)
	e.RefreshAll()
	// Login required, the sign-in opens by itself, and once it is done
	// the slot is served again, with the new session's credentials.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s, _ := e.manager.Lookup(creds.DefaultSlot)
		if s.State == creds.StateOK && s.Creds.AccessKeyID != first.Creds.AccessKeyID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot %+v", s)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(opened) != 1 || !strings.Contains(opened[0], "/v1/authorize?") {
		t.Errorf("opened %q, want one sign-in page", opened)
	}
	if n := fake.Calls("CreateOAuth2Token.error.TOKEN_EXPIRED"); n != 1 {
		t.Errorf("TOKEN_EXPIRED answered %d times, want once", n)
	}
	if n := fake.Calls("CreateOAuth2Token.authorization_code.ok"); n != 1 {
		t.Errorf("%d sign-ins, want 1", n)
	}
}
