package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/logincreds"
	"github.com/aws/aws-sdk-go-v2/service/signin"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

// signinARN is the `aws login` session of the end-to-end tests: a
// federated console session, which moto's STS can name (AssumeRole of
// Admin as alice).
const signinARN = "arn:aws:sts::111111111111:assumed-role/Admin/alice"

// motoSigninMint makes the fake sign-in service hand out credentials
// minted at moto for an assumed-role session, so that GetCallerIdentity
// names the session.
func motoSigninMint(t *testing.T, stsURL string) func(session string) (fakeidc.RoleCredentials, error) {
	client := sts.New(sts.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(stsURL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
	})
	return func(session string) (fakeidc.RoleCredentials, error) {
		m := regexp.MustCompile(`^arn:aws:sts::(\d{12}):assumed-role/([^/]+)/(.+)$`).FindStringSubmatch(session)
		if m == nil {
			t.Errorf("the test mints assumed-role sessions only, not %s", session)
			return fakeidc.RoleCredentials{}, os.ErrInvalid
		}
		out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::" + m[1] + ":role/" + m[2]), RoleSessionName: aws.String(m[3]),
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

// signinRig is what the `aws login` end-to-end tests share: the AWS CLI,
// moto, a desktop session with its keyring, and the fake sign-in service
// minting at moto, its browser signed in as session.
func signinRig(t *testing.T, session string) (stsURL string, s *desktoptest.Session, fake *fakeidc.Server) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		skipOrFail(t, "the AWS CLI (aws) is missing: sudo apt-get install awscli")
	}
	stsURL = moto(t)
	s = desktoptest.Start(t)
	s.StartKeyring(t)
	fake = fakeidc.New()
	t.Cleanup(fake.Close)
	fake.Lock()
	fake.Signin().Mint = motoSigninMint(t, stsURL)
	fake.Signin().Session = session
	fake.Unlock()
	return stsURL, s, fake
}

// mustVerb runs a CLI verb, failing the test (with the serve logs) when
// it fails.
func (p *serveProc) mustVerb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := p.verb(args...)
	if err != nil {
		t.Fatalf("rolecall %s: %v\n%s\nserve logs:\n%s", strings.Join(args, " "), err, out, p.logs.String())
	}
	return out
}

// clientEnv is a client's environment for the slot of profile (""
// the default slot) as `rolecall env` prints it, both token forms.
func (p *serveProc) clientEnv(t *testing.T, profile string) []string {
	t.Helper()
	args := []string{"env", "--shell", "sh", "--token-file-only"}
	if profile != "" {
		args = append(args, "--profile", profile)
	}
	out := p.mustVerb(t, args...)
	get := func(k string) string {
		m := regexp.MustCompile(`(?m)^export ` + k + `='([^']*)'$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s in %q", k, out)
		}
		return m[1]
	}
	token := strings.TrimSpace(p.mustVerb(t, "token"))
	return tokenFormEnv(t, formBoth, get("AWS_CONTAINER_CREDENTIALS_FULL_URI"), get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), token)
}

// TestLoginSessionEndToEnd: an `aws login` cache file written as the AWS
// CLI writes it, served by `rolecall serve` to the AWS CLI, boto3 and the
// Go SDK through the endpoint, with a role chain on top; rolecall rotates
// the refresh token and the file stays usable by the Go SDK's own login
// provider; TOKEN_EXPIRED is login required, asked once.
func TestLoginSessionEndToEnd(t *testing.T) {
	stsURL, s, fake := signinRig(t, signinARN)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "aws-config")
	os.WriteFile(cfg, []byte(`[profile me]
login_session = `+signinARN+`
region = us-east-1

[profile me-too]
login_session = `+signinARN+`
region = us-east-1

[profile deploy]
role_arn = arn:aws:iam::222222222222:role/Deploy
source_profile = me

[profile audit]
role_arn = arn:aws:iam::333333333333:role/Audit
source_profile = deploy
role_session_name = auditor
`), 0o600)
	cacheDir := filepath.Join(dir, "login-cache")
	os.MkdirAll(cacheDir, 0o700)
	name, contents, err := fake.SigninCache(signinARN)
	if err != nil {
		t.Fatal(err)
	}
	// Written by the CLI ten minutes ago: rolecall refreshes at once.
	var file map[string]any
	json.Unmarshal(contents, &file)
	file["accessToken"].(map[string]any)["expiresAt"] = time.Now().Add(5 * time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	contents, _ = json.Marshal(file)
	cachePath := filepath.Join(cacheDir, name)
	os.WriteFile(cachePath, contents, 0o600)

	env := append(os.Environ(), s.Env...)
	env = append(env, "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+cfg, "HOME="+dir, "AWS_LOGIN_CACHE_DIRECTORY="+cacheDir,
		"AWS_ENDPOINT_URL_SIGNIN="+fake.URL, "AWS_ENDPOINT_URL_STS="+stsURL)
	p := startServe(t, env, freePort(t))
	mustVerb := func(args ...string) string { t.Helper(); return p.mustVerb(t, args...) }
	if out := mustVerb("roles"); !strings.Contains(out, "me") || !strings.Contains(out, "deploy") {
		t.Errorf("roles:\n%s", out)
	}
	mustVerb("load", "--profile", "me")
	mustVerb("load", "--profile", "deploy", "--slot")
	mustVerb("load", "--profile", "audit", "--slot")
	meEnv, deployEnv, auditEnv := p.clientEnv(t, ""), p.clientEnv(t, "deploy"), p.clientEnv(t, "audit")
	if arn := runClient(t, meEnv, "aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json"); arn != signinARN {
		t.Errorf("AWS CLI: caller %s, want the login session %s", arn, signinARN)
	}
	if exec.Command(debianPython, "-c", "import boto3").Run() == nil {
		if arn, err := callClient(append(meEnv, "STS_ENDPOINT="+stsURL), []string{debianPython, "-c", boto3Script}); err != nil || arn != signinARN {
			t.Errorf("boto3: caller %s (%v), want %s", arn, err, signinARN)
		}
	} else {
		skipOrFail(t, "Debian's boto3 is missing: sudo apt-get install python3-boto3")
	}
	if arn := goCallerIdentity(t, meEnv, stsURL); arn != signinARN {
		t.Errorf("Go SDK: caller %s, want %s", arn, signinARN)
	}
	if arn := runClient(t, deployEnv, "aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json"); arn != "arn:aws:sts::222222222222:assumed-role/Deploy/alice" {
		t.Errorf("the chain on the login session: caller %s", arn)
	}
	if arn := goCallerIdentity(t, auditEnv, stsURL); arn != "arn:aws:sts::333333333333:assumed-role/Audit/auditor" {
		t.Errorf("the chain of two on the login session: caller %s", arn)
	}

	// rolecall refreshed the CLI's ten-minute-old credentials and wrote
	// the rotated token back, the CLI's fields kept.
	var after map[string]any
	b, _ := os.ReadFile(cachePath)
	json.Unmarshal(b, &after)
	if after["refreshToken"] == file["refreshToken"] || after["idToken"] != file["idToken"] || after["dpopKey"] != file["dpopKey"] {
		t.Fatalf("after rolecall's refresh the cache holds %v", after)
	}
	if n := fake.Calls("CreateOAuth2Token.refresh_token.ok"); n != 1 {
		t.Errorf("%d refreshes for two slots and three clients; want 1", n)
	}

	// The AWS CLI from apt predates `aws login`: the Go SDK's own login
	// provider reads the file instead, by the CLI's rules, once its
	// credentials expired (as it would only then refresh).
	after["accessToken"].(map[string]any)["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	b, _ = json.Marshal(after)
	os.WriteFile(cachePath, b, 0o600)
	sdk := logincreds.New(signin.New(signin.Options{Region: "us-east-1", BaseEndpoint: aws.String(fake.URL)}), cachePath)
	sdkCreds, err := sdk.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("the Go SDK's login provider after rolecall rotated the token: %v", err)
	}
	env2 := clientEnv(t, "", "")
	env2 = append(env2, "AWS_ACCESS_KEY_ID="+sdkCreds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+sdkCreds.SecretAccessKey, "AWS_SESSION_TOKEN="+sdkCreds.SessionToken)
	if arn := runClient(t, env2, "aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json"); arn != signinARN {
		t.Errorf("the SDK's refreshed credentials name %s", arn)
	}

	// The session ends: login required, and the service is asked once.
	fake.Lock()
	fake.Signin().Fail[signinARN] = "TOKEN_EXPIRED"
	fake.Unlock()
	b, _ = os.ReadFile(cachePath)
	json.Unmarshal(b, &after)
	after["accessToken"].(map[string]any)["expiresAt"] = time.Now().Add(time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	b, _ = json.Marshal(after)
	os.WriteFile(cachePath, b, 0o600)
	for range 2 {
		out, err := p.verb("load", "--profile", "me-too", "--slot")
		if err == nil || !strings.Contains(out, "has ended") || !strings.Contains(out, "rolecall login --profile me") {
			t.Errorf("load after the session ended: %v %q", err, out)
		}
	}
	if n := fake.Calls("CreateOAuth2Token.error.TOKEN_EXPIRED"); n != 1 {
		t.Errorf("the sign-in service was asked %d times after TOKEN_EXPIRED, want once", n)
	}
}

// TestLoginSessionSignIn: `rolecall login --profile` signs in as `aws
// login` does, through the running rolecall: in the browser of this
// machine (the fake browser follows the sign-in page's redirect to
// rolecall's loopback listener), and cross-device (the code the sign-in
// page shows pasted in the terminal). Each writes the CLI's cache and a
// new profile, which then serves the AWS CLI.
func TestLoginSessionSignIn(t *testing.T) {
	stsURL, s, fake := signinRig(t, "arn:aws:sts::111111111111:assumed-role/Admin/bob")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "aws-config")
	const others = "# keep me\n[profile other]\nregion = eu-west-1\n"
	os.WriteFile(cfg, []byte(others), 0o600)
	cacheDir := filepath.Join(dir, "login-cache")
	pathEnv, browserLog := fakeBrowser(t, dir)
	env := append(os.Environ(), s.Env...)
	env = append(env, pathEnv, "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+cfg, "HOME="+dir, "AWS_LOGIN_CACHE_DIRECTORY="+cacheDir,
		"AWS_ENDPOINT_URL_SIGNIN="+fake.URL, "AWS_ENDPOINT_URL_STS="+stsURL,
		// A desktop session here: the browser's redirect reaches rolecall.
		"DISPLAY=:0", "SSH_CONNECTION=", "SSH_TTY=")
	p := startServe(t, env, freePort(t))
	mustVerb := func(args ...string) string { t.Helper(); return p.mustVerb(t, args...) }
	caller := func(profile string) string {
		t.Helper()
		return runClient(t, p.clientEnv(t, profile), "aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json")
	}

	// In this machine's browser.
	if out := mustVerb("login", "--profile", "bob", "--region", "us-east-1"); !strings.Contains(out, "signed in to bob until") {
		t.Errorf("login printed %q", out)
	}
	if b, _ := os.ReadFile(browserLog); strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), "/v1/authorize?response_type=code&client_id=arn%3Aaws%3Asignin%3A%3A%3Adevtools%2Fsame-device") {
		t.Errorf("browser opened: %q", b)
	}
	b, _ := os.ReadFile(cfg)
	if want := others + "\n[profile bob]\nlogin_session = arn:aws:sts::111111111111:assumed-role/Admin/bob\nregion = us-east-1\n"; string(b) != want {
		t.Errorf("AWS config after the sign-in:\n%s\nwant:\n%s", b, want)
	}
	mustVerb("load", "--profile", "bob", "--slot")
	if arn := caller("bob"); arn != "arn:aws:sts::111111111111:assumed-role/Admin/bob" {
		t.Errorf("bob's slot: caller %s", arn)
	}

	// On another device: the code the sign-in page shows, pasted here.
	fake.Lock()
	fake.Signin().Session = "arn:aws:sts::111111111111:assumed-role/Admin/carol"
	fake.Unlock()
	cmd := exec.Command(p.bin, "login", "--profile", "carol", "--region", "us-east-1", "--no-browser")
	cmd.Env = p.env
	stdin, _ := cmd.StdinPipe()
	stderr, _ := cmd.StderrPipe()
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var shown strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(shown.String(), "paste the code") {
		n, err := stderr.Read(buf)
		shown.Write(buf[:n])
		if err != nil {
			t.Fatalf("login --no-browser printed %q: %v", shown.String(), err)
		}
	}
	m := regexp.MustCompile(`(?m)^  (http\S+/v1/authorize\?\S+)$`).FindStringSubmatch(shown.String())
	if m == nil || !strings.Contains(m[1], "devtools%2Fcross-device") {
		t.Fatalf("login --no-browser printed %q", shown.String())
	}
	resp, err := http.Get(m[1]) // the other device's browser
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	code, err := fakeidc.ConfirmationCode(string(page))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, code+"\n")
	if err := cmd.Wait(); err != nil || !strings.Contains(stdout.String(), "signed in to carol until") {
		t.Fatalf("login --no-browser: %v, %q %q\nserve logs:\n%s", err, stdout.String(), shown.String(), p.logs.String())
	}
	if b, _ := os.ReadFile(browserLog); strings.Count(string(b), "\n") != 1 {
		t.Errorf("--no-browser opened a browser: %q", b)
	}
	mustVerb("load", "--profile", "carol", "--slot")
	if arn := caller("carol"); arn != "arn:aws:sts::111111111111:assumed-role/Admin/carol" {
		t.Errorf("carol's slot: caller %s", arn)
	}
	if n := fake.Calls("CreateOAuth2Token.authorization_code.ok"); n != 2 {
		t.Errorf("%d code exchanges, want 2", n)
	}
}
