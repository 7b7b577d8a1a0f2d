package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/server/control"
)

// regionEngine is a quiet engine whose resolver knows dev (region
// eu-west-1) and nothing else, and whose fetcher mints fake credentials.
func regionEngine(t *testing.T, mods ...func(*engine.Config)) *engine.Engine {
	t.Helper()
	mods = append([]func(*engine.Config){func(c *engine.Config) {
		c.Resolve = func(_ context.Context, req control.LoadRequest) (creds.Profile, error) {
			if req.Profile == "dev" {
				return creds.Profile{Name: "dev", Region: "eu-west-1"}, nil
			}
			return creds.Profile{}, creds.Errorf(creds.NoSuchProfile, creds.ErrPermanent, req.Profile)
		}
		c.Fetcher = creds.FetcherFunc(func(context.Context, creds.Profile) (creds.Credentials, error) {
			now := time.Now()
			return creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
				Issued: now, Expiration: now.Add(time.Hour)}, nil
		})
	}}, mods...)
	e, err := quietEngine(t, 0, filepath.Join(t.TempDir(), "control.sock"), mods...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEnvNamedSlotOnDemand: `env --profile P` answers for a name the
// resolver knows though it is not loaded (its first request loads it),
// with its region; an unknown name gets the resolver's reason, which
// points at `rolecall roles`, never at a load.
func TestEnvNamedSlotOnDemand(t *testing.T) {
	regionEngine(t)
	out, errOut, rc := cliRun(t, "env", "--shell", "sh", "--profile", "dev")
	if rc != 0 || !strings.Contains(out, "/slot/dev'\n") || !strings.Contains(out, "export AWS_REGION='eu-west-1'\n") ||
		!strings.Contains(out, "export AWS_DEFAULT_REGION='eu-west-1'\n") {
		t.Errorf("env --profile dev, not loaded: exit %d\n%s%s", rc, out, errOut)
	}
	_, errOut, rc = cliRun(t, "env", "--profile", "nope")
	if want := "rolecall: no profile named nope: `rolecall roles` lists the names you can load"; rc != 1 || firstLine(errOut) != want {
		t.Errorf("unknown name: exit %d\ngot  %s\nwant %s", rc, firstLine(errOut), want)
	}
}

// TestRegionTravels: the default slot's region comes with `rolecall env`,
// and a role without one sets none.
func TestRegionTravels(t *testing.T) {
	e := regionEngine(t)
	if err := e.Load("dev", false); err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, "env", "--shell", "sh"); !strings.Contains(out, "export AWS_REGION='eu-west-1'\n") {
		t.Errorf("env after load --profile dev:\n%s", out)
	}
	if got := e.Env().Region; got != "eu-west-1" {
		t.Errorf("engine Env (the tray's Copy IDE settings) region %q", got)
	}
	if got := ideSettings(e.Env()); !strings.Contains(got, "\nAWS_REGION=eu-west-1\n") {
		t.Errorf("IDE settings without the region:\n%s", got)
	}
	// A grant prepares a client too: its exports and env file carry it.
	if out := mustCLI(t, "grant", "add", "box", "--profile", "dev", "--shell", "sh"); !strings.Contains(out, "export AWS_REGION='eu-west-1'\n") {
		t.Errorf("grant add without the region:\n%s", out)
	}
	if out := mustCLI(t, "grant", "add", "ci", "--profile", "dev", "--format", "docker"); !strings.Contains(out, "\nAWS_REGION=eu-west-1\n") {
		t.Errorf("grant add --format docker without the region:\n%s", out)
	}
}

// TestUnknownSlotAdvice: the endpoint's 404 for a name nobody knows
// points at `rolecall roles` (a load could not work either).
func TestUnknownSlotAdvice(t *testing.T) {
	e := regionEngine(t)
	env := e.Env()
	req, _ := http.NewRequest(http.MethodGet, env.FullURI+"slot/nope", nil)
	req.Header.Set("Authorization", env.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "`rolecall roles` lists the names") ||
		strings.Contains(string(body), "rolecall load") {
		t.Errorf("GET /slot/nope: %d %s", resp.StatusCode, body)
	}
}

// TestEnvIMDSOff: `env --imds` against a rolecall that serves no IMDS
// fails with what to do, instead of printing exports that cannot work.
func TestEnvIMDSOff(t *testing.T) {
	regionEngine(t)
	out, errOut, rc := cliRun(t, "env", "--imds")
	if want := "rolecall: " + creds.Say(creds.EnvNoIMDS); rc != 1 || out != "" || firstLine(errOut) != want {
		t.Errorf("exit %d, stdout %q\ngot  %s\nwant %s", rc, out, firstLine(errOut), want)
	}
	regionEngine(t, func(c *engine.Config) { c.Settings.IMDS = true })
	if out := mustCLI(t, "env", "--imds", "--shell", "sh"); !strings.Contains(out, "export AWS_EC2_METADATA_DISABLED='false'\n") {
		t.Errorf("env --imds with IMDS on:\n%s", out)
	}
}

// TestTokenRotateSaysEval: a rotation says that shells holding the token
// must eval again (the token alone on stdout, for scripts).
func TestTokenRotateSaysEval(t *testing.T) {
	e := regionEngine(t)
	old := e.Env().Token
	out, errOut, rc := cliRun(t, "token", "--rotate")
	if rc != 0 || strings.TrimSpace(out) == old || strings.Count(out, "\n") != 1 || firstLine(errOut) != creds.Say(creds.TokenRotated) {
		t.Errorf("token --rotate: exit %d, stdout %q, stderr %q", rc, out, errOut)
	}
}

// TestHelpMatchesReadme: `roles -h` shows the synopsis the README's
// Command line gives, and `current -h`'s example does not hand the name to
// --profile (the SDKs would read that profile, not rolecall: precedence
// trap 2; a discovered role is no profile at all).
func TestHelpMatchesReadme(t *testing.T) {
	readme := readmeSection(t, "## Command line")
	out, _, _ := cliRun(t, "roles", "-h")
	synopsis := strings.TrimPrefix(firstLine(out), "Usage: ")
	if !strings.Contains(readme, "\n"+synopsis+" ") {
		t.Errorf("roles -h says %q; the README's Command line has no such line", synopsis)
	}
	if out, _, _ := cliRun(t, "current", "-h"); strings.Contains(out, `--profile "$(rolecall current)"`) {
		t.Errorf("current -h walks into the AWS_PROFILE trap:\n%s", out)
	}
}
