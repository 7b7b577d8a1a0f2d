package engine

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/settings"
	"github.com/rolecall/rolecall/sso"
)

// benchEngine is a signed-in session corp with profiles p0000..p<n-1> in
// the AWS config, against a fake Identity Center answering in latency;
// start starts an engine with pins (in a fresh state dir each time).
func benchEngine(b *testing.B, profiles int, latency time.Duration) (start func(pins []string) *Engine) {
	gokeyring.MockInit()
	fake := fakeidc.New(fakeidc.Account{ID: "111111111111", Name: "dev", Roles: []string{"Admin"}})
	b.Cleanup(fake.Close)
	fake.Latency = latency
	b.Setenv("AWS_ENDPOINT_URL_SSO_OIDC", fake.URL)
	b.Setenv("AWS_ENDPOINT_URL_SSO", fake.URL)
	dir := b.TempDir()
	var cfg strings.Builder
	cfg.WriteString("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n")
	for i := range profiles {
		fmt.Fprintf(&cfg, "\n[profile p%04d]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Admin\n", i)
	}
	awsConfig := filepath.Join(dir, "aws-config")
	os.WriteFile(awsConfig, []byte(cfg.String()), 0o600)
	b.Setenv("AWS_CONFIG_FILE", awsConfig)
	kr := func() *keyring.Keyring { return keyring.New("rolecall-stop-bench", nil) }

	// Signed in beforehand: the token is in the (mock) keyring.
	login := sso.NewClient(sso.Options{Keyring: kr(), ConfigPath: awsConfig, CLICacheDir: dir,
		OpenBrowser: func(u string) error {
			if resp, err := http.Get(u); err == nil {
				resp.Body.Close()
			}
			return nil
		}})
	s, err := login.Session(context.Background(), "corp")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := login.Login(context.Background(), s, sso.LoginOptions{}); err != nil {
		b.Fatal(err)
	}
	runs := 0
	return func(pins []string) *Engine {
		st := settings.Defaults()
		st.Port, st.Pinned = 0, pins
		runs++
		run := filepath.Join(dir, fmt.Sprint(runs))
		e, err := Start(context.Background(), Config{Settings: st, StateDir: filepath.Join(run, "state"),
			Socket: filepath.Join(run, "run", "control.sock"), Keyring: kr()})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
}

// BenchmarkHealthzWith5000UnknownPins is a /healthz answer a second after
// a start with 5,000 pins nobody knows among 5,000 profiles, while they
// are being resolved: ns/op is its latency (once 38-72 s).
func BenchmarkHealthzWith5000UnknownPins(b *testing.B) {
	start := benchEngine(b, 5000, 20*time.Millisecond)
	var pins []string
	for i := range 5000 { // half need the discovery, half the "did you mean" match
		pins = append(pins, fmt.Sprintf("nobody/%d", i), fmt.Sprintf("nobody-%d", i))
	}
	pins = pins[:5000]
	for b.Loop() {
		b.StopTimer()
		e := start(pins)
		time.Sleep(time.Second)
		b.StartTimer()
		resp, err := http.Get(e.listener.URL() + "/healthz")
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		e.Close()
		b.StartTimer()
	}
}

// BenchmarkStopWith300Pins is a stop (SIGTERM) moments after a start
// that restores 300 pinned slots, against a fake Identity Center that
// answers in 100 ms: ns/op is how long Close takes (once 67 s).
func BenchmarkStopWith300Pins(b *testing.B) {
	const pins = 300
	start := benchEngine(b, pins, 100*time.Millisecond)
	var names []string
	for i := range pins {
		names = append(names, fmt.Sprintf("p%04d", i))
	}
	for b.Loop() {
		b.StopTimer()
		e := start(names)
		b.StartTimer()
		e.Close()
	}
}
