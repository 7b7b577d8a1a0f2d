package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/server/control"
)

// corpConfig writes an AWS config in dir with the sso-session corp of
// the fake Identity Center at fakeURL and the profile dev (account
// 111111111111, role Admin), then more (further lines of dev's section, or
// sections of their own), and returns its path.
func corpConfig(t *testing.T, dir, fakeURL, more string) string {
	t.Helper()
	cfg := filepath.Join(dir, "aws-config")
	head := `[sso-session corp]
sso_start_url = ` + fakeURL + `/start
sso_region = us-east-1

[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin
`
	if err := os.WriteFile(cfg, []byte(head+more), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// motoMint makes the fake Identity Center hand out credentials minted by
// moto's STS, so that real clients can use them against moto.
func motoMint(t *testing.T, stsURL string) func(account, role string) (fakeidc.RoleCredentials, error) {
	client := sts.New(sts.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(stsURL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
	})
	bad := regexp.MustCompile(`[^\w+=,.@-]+`)
	return func(account, role string) (fakeidc.RoleCredentials, error) {
		out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
			RoleArn:         aws.String("arn:aws:iam::" + account + ":role/" + bad.ReplaceAllString(role, "-")),
			RoleSessionName: aws.String("alice@example.com"),
		})
		if err != nil {
			return fakeidc.RoleCredentials{}, err
		}
		return fakeidc.RoleCredentials{
			AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey,
			SessionToken: *out.Credentials.SessionToken, Expiration: *out.Credentials.Expiration,
		}, nil
	}
}

// fakeBrowser puts an xdg-open first on PATH that acts as a browser: it
// opens the page rolecall names (a file:// page of rolecall's hand-off),
// follows its one-time loopback link to the URL it forwards to, logs that
// URL and visits it (which approves a login in the fake). Its own command
// line, as every user of the machine can read it in /proc, goes to
// logFile + ".cmdline" (launcherCmdlines checks it).
func fakeBrowser(t testing.TB, dir string) (pathEnv, logFile string) {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	logFile = filepath.Join(dir, "browser.log")
	browser := `import os, re, sys, urllib.error, urllib.request
with open(sys.argv[2] + ".cmdline", "a") as c:
    c.write(open("/proc/self/cmdline").read().replace("\0", " ") + "\n")
u = sys.argv[1]
if os.path.exists(sys.argv[2] + ".keep"):  # a real browser opens it: log the page only
    with open(sys.argv[2], "a") as log:
        log.write(u + "\n")
    sys.exit(0)
if u.startswith("file://"):
    page = open(urllib.request.url2pathname(u[len("file://"):])).read()
    link = re.search(r'url=([^"]+)"', page).group(1)
    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    try:
        urllib.request.build_opener(Stay).open(link)
    except urllib.error.HTTPError as e:
        u = e.headers["Location"]
with open(sys.argv[2], "a") as log:
    log.write(u + "\n")
urllib.request.urlopen(u).read()
`
	if err := os.WriteFile(filepath.Join(bin, "fake-browser.py"), []byte(browser), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nexec python3 " + filepath.Join(bin, "fake-browser.py") + " \"$1\" " + logFile + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + bin + ":" + os.Getenv("PATH"), logFile
}

// awsCLICaller is the caller the AWS CLI sees (against moto's STS) with the
// exports `rolecall env --token-file-only` prints for slot ("" the default
// slot); verb runs
// a rolecall verb of the process under test.
func awsCLICaller(t *testing.T, verb func(args ...string) string, stsURL, slot string) string {
	t.Helper()
	args := []string{"env", "--shell", "sh", "--token-file-only"}
	if slot != "" {
		args = append(args, "--profile", slot)
	}
	envOut := verb(args...)
	get := func(k string) string {
		m := regexp.MustCompile(`(?m)^export ` + k + `='([^']*)'$`).FindStringSubmatch(envOut)
		if m == nil {
			t.Fatalf("no %s in %q", k, envOut)
		}
		return m[1]
	}
	return runClient(t, clientEnv(t, get("AWS_CONTAINER_CREDENTIALS_FULL_URI"), get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")),
		"aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json")
}

// launcherCmdlines checks the command lines the fake browser recorded:
// each names a page of rolecall's, none carries a secret (a login's user
// code or URL, a PKCE state, a console sign-in token).
func launcherCmdlines(t *testing.T, logFile string) {
	t.Helper()
	b, err := os.ReadFile(logFile + ".cmdline")
	if err != nil || len(b) == 0 {
		t.Fatalf("the fake browser recorded no command line: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.Contains(line, "file://") {
			t.Errorf("launcher command line %q: want a page of rolecall's", line)
		}
		for _, secret := range []string{"user_code", "/device", "/authorize", "state=", "code_challenge", "SigninToken", "http://", "https://"} {
			if strings.Contains(line, secret) {
				t.Errorf("launcher command line %q carries %s: other users read it", line, secret)
			}
		}
	}
}

// TestIdentityCenterEndToEnd is the whole path across processes: `rolecall
// serve` with the fake Identity Center reached through the endpoint
// variables and the real Secret Service; `rolecall login` approved by a
// fake browser; loads of a profile, a role chain and a discovered role
// whose name needs escaping; the AWS CLI calling STS on moto through the
// endpoint; a kill -9 that needs no new login; a second sso-session;
// logout.
func TestIdentityCenterEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		skipOrFail(t, "the AWS CLI (aws) is missing: sudo apt-get install awscli")
	}
	stsURL := moto(t)
	s := desktoptest.Start(t)
	s.StartKeyring(t)

	// One fake serves both sessions (the endpoint variables are global);
	// each sees its own accounts.
	fake := fakeidc.New()
	defer fake.Close()
	fake.Accounts = []fakeidc.Account{
		{ID: "111111111111", Name: "dev", Roles: []string{"Admin", "Deploy+Ops@team"}, StartURL: fake.URL + "/start"},
		{ID: "222222222222", Name: "prod", Roles: []string{"ReadOnly"}, StartURL: fake.URL + "/start"},
		{ID: "333333333333", Name: "lab", Roles: []string{"Builder"}, StartURL: fake.URL + "/lab"},
	}
	fake.Mint = motoMint(t, stsURL)

	dir := t.TempDir()
	cfg := corpConfig(t, dir, fake.URL, `
[profile ops]
role_arn = arn:aws:iam::111111111111:role/ops
source_profile = dev
duration_seconds = 1800

[sso-session lab]
sso_start_url = `+fake.URL+`/lab
sso_region = eu-central-1

[profile builder]
sso_session = lab
sso_account_id = 333333333333
sso_role_name = Builder
`)
	pathEnv, browserLog := fakeBrowser(t, dir)
	env := append(os.Environ(), s.Env...)
	env = append(env, pathEnv, "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+cfg, "HOME="+dir,
		"AWS_ENDPOINT_URL_SSO_OIDC="+fake.URL, "AWS_ENDPOINT_URL_SSO="+fake.URL, "AWS_ENDPOINT_URL_STS="+stsURL)
	port := freePort(t)
	p := startServe(t, env, port)
	mustVerb := func(args ...string) string {
		t.Helper()
		out, err := p.verb(args...)
		if err != nil {
			t.Fatalf("rolecall %s: %v\n%s\nserve logs:\n%s", strings.Join(args, " "), err, out, p.logs.String())
		}
		return out
	}

	// Before a login: a clear answer, exit 1.
	if out, err := p.verb("load", "--profile", "dev"); err == nil || !strings.Contains(out, "rolecall login") {
		t.Fatalf("load before login: %v %q", err, out)
	}
	out := mustVerb("login", "--sso-session", "corp")
	if !regexp.MustCompile(`Check that it shows the code [0-9A-F]{4}-[0-9A-F]{4}`).MatchString(out) || !strings.Contains(out, "signed in to corp until") {
		t.Errorf("login printed %q", out)
	}
	if b, _ := os.ReadFile(browserLog); strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), "/device?user_code=") {
		t.Errorf("browser opened: %q", b)
	}
	launcherCmdlines(t, browserLog)

	mustVerb("load", "--profile", "dev")
	mustVerb("load", "--profile", "ops", "--slot")
	mustVerb("load", "--profile", "dev/Deploy+Ops@team", "--slot")
	mustVerb("load", "--account", "222222222222", "--role", "ReadOnly", "--slot")

	// Each slot through the AWS CLI, against moto.
	awsCLI := func(slot, wantRole string) {
		t.Helper()
		arn := awsCLICaller(t, mustVerb, stsURL, slot)
		if !strings.Contains(arn, ":assumed-role/"+wantRole+"/") {
			t.Errorf("slot %q: caller %s, want role %s", slot, arn, wantRole)
		}
	}
	awsCLI("", "Admin")
	awsCLI("ops", "ops")
	awsCLI("dev/Deploy+Ops@team", "Deploy+Ops@team")
	awsCLI("prod/ReadOnly", "ReadOnly")

	var roles control.Roles
	if err := json.Unmarshal([]byte(mustVerb("roles", "--json")), &roles); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles.Roles {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ","); got != "builder,dev,ops,dev/Admin,dev/Deploy+Ops@team,prod/ReadOnly" || len(roles.NeedLogin) != 1 || roles.NeedLogin[0] != "lab" {
		t.Errorf("roles = %s, need login %v", got, roles.NeedLogin)
	}

	// kill -9 and start again: the session comes back from the keyring.
	p.cmd.Process.Kill()
	p.cmd.Wait()
	os.Remove(filepath.Join(s.Dir, "run", "rolecall", "control.sock"))
	p = startServe(t, env, port)
	mustVerb("load", "--profile", "dev")
	awsCLI("", "Admin")
	if n := fake.Calls("StartDeviceAuthorization"); n != 1 {
		t.Errorf("device authorizations = %d, want 1: the restart needed a login", n)
	}
	if out := mustVerb("list"); !strings.Contains(out, "dev") {
		t.Errorf("list after restart: %q", out)
	}

	// A second sso-session, approved without a browser (--no-browser).
	go func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if codes := fake.PendingCodes(); len(codes) == 1 {
				fake.Approve(codes[0])
				return
			}
		}
	}()
	if out := mustVerb("login", "--sso-session", "lab", "--no-browser"); !strings.Contains(out, "Open this URL in a browser") {
		t.Errorf("login --no-browser printed %q", out)
	}
	if b, _ := os.ReadFile(browserLog); strings.Count(string(b), "\n") != 1 {
		t.Errorf("--no-browser opened a browser: %q", b)
	}
	mustVerb("load", "--profile", "builder", "--slot")
	awsCLI("builder", "Builder")

	// Logout of corp empties its slots and leaves lab's.
	if out := mustVerb("logout", "--sso-session", "corp"); !strings.Contains(out, "signed out of corp; unloaded default") {
		t.Errorf("logout printed %q", out)
	}
	var slots []control.SlotInfo
	json.Unmarshal([]byte(mustVerb("list", "--json")), &slots)
	if len(slots) != 1 || slots[0].Slot != "builder" {
		t.Errorf("after logout: %+v", slots)
	}
	if fake.Calls("Logout") != 1 {
		t.Error("the portal's Logout was not called")
	}
	if out, err := p.verb("load", "--profile", "dev"); err == nil || !strings.Contains(out, "rolecall login") {
		t.Errorf("load after logout: %v %q", err, out)
	}
}
