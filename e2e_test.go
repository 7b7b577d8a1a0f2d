package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// skipOrFail skips a test whose tool is missing, or fails it when
// ROLECALL_REQUIRE_ALL is set, as CI does.
var skipOrFail = desktoptest.SkipOrFail

var (
	motoOnce sync.Once
	motoURL  string
	motoErr  error
)

// moto starts one moto_server (STS, S3) for the whole test binary.
func moto(t testing.TB) string {
	t.Helper()
	desktoptest.SkipShort(t, "starts moto_server")
	motoOnce.Do(func() {
		bin, err := exec.LookPath("moto_server")
		if err != nil {
			motoErr = fmt.Errorf("moto_server is missing: python3 -m venv ~/.venv/moto && ~/.venv/moto/bin/pip install 'moto[server]', then put ~/.venv/moto/bin on PATH (or pipx install 'moto[server]')")
			return
		}
		port := freePort(t)
		cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", port)
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			motoErr = err
			return
		}
		motoURL = "http://127.0.0.1:" + port
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(motoURL + "/moto-api/")
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				motoErr = fmt.Errorf("moto_server did not start: %v", err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		stopMoto = func() { cmd.Process.Kill(); cmd.Wait() }
	})
	if motoErr != nil {
		skipOrFail(t, motoErr.Error())
	}
	return motoURL
}

var stopMoto = func() {}

func TestMain(m *testing.M) {
	code := m.Run()
	stopMoto()
	os.Exit(code)
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// stsFetcher mints role credentials with moto's STS AssumeRole, as the
// Identity Center side will with GetRoleCredentials: real, short-lived
// credentials that real clients can then use against moto.
func stsFetcher(endpoint string) creds.Fetcher {
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
	})
	bad := regexp.MustCompile(`[^\w+=,.@-]+`)
	return creds.FetcherFunc(func(ctx context.Context, p creds.Profile) (creds.Credentials, error) {
		if strings.HasPrefix(p.Name, "missing") {
			// What a real profile source says of a name it does not know.
			return creds.Credentials{}, fmt.Errorf("profile %q not found in the AWS config", p.Name)
		}
		role := bad.ReplaceAllString(p.Name, "-")
		out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         aws.String("arn:aws:iam::123456789012:role/" + role),
			RoleSessionName: aws.String("rolecall-test"),
			DurationSeconds: aws.Int32(3600),
		})
		if err != nil {
			return creds.Credentials{}, err
		}
		return creds.Credentials{
			AccessKeyID:     *out.Credentials.AccessKeyId,
			SecretAccessKey: *out.Credentials.SecretAccessKey,
			SessionToken:    *out.Credentials.SessionToken,
			Expiration:      *out.Credentials.Expiration,
			RoleARN:         "arn:aws:iam::123456789012:role/" + role,
			AccountID:       "123456789012",
		}, nil
	})
}

// testEngine starts the engine as `rolecall serve` does, with the STS
// fetcher, on a free port, and points the CLI verbs at its socket.
func testEngine(t *testing.T, mod func(*settings.Settings)) (*engine.Engine, string) {
	t.Helper()
	return testEngineIn(t, t.TempDir(), mod)
}

// testEngineIn is testEngine with its files in dir, so that a test can
// start it again on the same state.
func testEngineIn(t *testing.T, dir string, mod func(*settings.Settings)) (*engine.Engine, string) {
	t.Helper()
	stsURL := moto(t)
	gokeyring.MockInit()
	st := settings.Defaults()
	st.Port = 0
	st.IMDS = true
	if mod != nil {
		mod(&st)
	}
	sock := filepath.Join(dir, "run", "control.sock")
	t.Setenv(control.SocketEnv, sock)
	e, err := engine.Start(context.Background(), engine.Config{
		Settings: st, Socket: sock, StateDir: filepath.Join(dir, "state"), SettingsPath: filepath.Join(dir, "config.toml"),
		Fetcher: stsFetcher(stsURL), Resolve: resolveByName,
		Keyring: keyring.New("rolecall-test", nil), Log: newLogger(os.Stderr, false),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, stsURL
}

// resolveByName loads any name asked for: the STS fetcher accepts any.
func resolveByName(_ context.Context, req control.LoadRequest) (creds.Profile, error) {
	if req.Profile != "" {
		return creds.Profile{Name: req.Profile}, nil
	}
	return creds.Profile{Name: req.AccountID + "/" + req.RoleName, AccountID: req.AccountID, RoleName: req.RoleName}, nil
}

// cliRun runs a rolecall verb in-process against the test engine.
func cliRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), rc
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, rc := cliRun(t, args...)
	if rc != 0 {
		t.Fatalf("rolecall %s: exit %d: %s", strings.Join(args, " "), rc, errOut)
	}
	return out
}

// clientEnv is a clean environment for an SDK: no shared config, no keys,
// only what `rolecall env` prints.
func clientEnv(t *testing.T, fullURI, tokenFile string) []string {
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	for _, k := range []string{"PYENV_ROOT", "PYENV_VERSION", "NODE_PATH"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if fullURI != "" {
		env = append(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI="+fullURI, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="+tokenFile)
	}
	return env
}

// envOf parses `rolecall env --token-file-only` (sh syntax) into FULL_URI
// and TOKEN_FILE.
func envOf(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out := mustCLI(t, append([]string{"env", "--shell", "sh", "--token-file-only"}, args...)...)
	get := func(k string) string {
		m := regexp.MustCompile(`(?m)^export ` + k + `='([^']*)'$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s in:\n%s", k, out)
		}
		return m[1]
	}
	return get("AWS_CONTAINER_CREDENTIALS_FULL_URI"), get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
}

func wantAssumed(t *testing.T, client, arn, role string) {
	t.Helper()
	if !strings.Contains(arn, ":assumed-role/"+role+"/") {
		t.Errorf("%s: caller identity %q, want the assumed role %s", client, arn, role)
	}
}

// goCallerIdentity resolves credentials with the Go SDK's default chain in
// an environment holding only env, then calls STS on moto.
func goCallerIdentity(t *testing.T, env []string, stsURL string) string {
	t.Helper()
	// Cleared first, so that only what env holds is seen (an earlier
	// call's token file must not stand in for a token).
	for _, k := range append(slices.Clone(shadowing), "AWS_CONTAINER_AUTHORIZATION_TOKEN",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_EC2_METADATA_SERVICE_ENDPOINT") {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "PATH" {
			t.Setenv(k, v)
		}
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(stsURL) }).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("Go SDK GetCallerIdentity: %v", err)
	}
	return *out.Arn
}

func TestGoSDKContainerCredentials(t *testing.T) {
	_, stsURL := testEngine(t, nil)
	mustCLI(t, "load", "--profile", "dev")
	mustCLI(t, "load", "--profile", "team+ops@corp", "--slot")

	uri, tokenFile := envOf(t)
	wantAssumed(t, "default slot", goCallerIdentity(t, clientEnv(t, uri, tokenFile), stsURL), "dev")

	uri, tokenFile = envOf(t, "--profile", "team+ops@corp")
	if !strings.HasSuffix(uri, "/slot/team+ops@corp") {
		t.Errorf("named slot URL %s", uri)
	}
	wantAssumed(t, "named slot", goCallerIdentity(t, clientEnv(t, uri, tokenFile), stsURL), "team+ops@corp")

	// The raw token in AWS_CONTAINER_AUTHORIZATION_TOKEN works as well.
	tok := strings.TrimSpace(mustCLI(t, "token"))
	env := clientEnv(t, uri, "")
	env = append(env[:len(env)-1], "AWS_CONTAINER_AUTHORIZATION_TOKEN="+tok)
	wantAssumed(t, "raw token", goCallerIdentity(t, env, stsURL), "team+ops@corp")
}

func TestGoSDKIMDS(t *testing.T) {
	_, stsURL := testEngine(t, nil)
	mustCLI(t, "load", "--profile", "dev")
	out := mustCLI(t, "env", "--imds", "--shell", "sh")
	m := regexp.MustCompile(`(?m)^export AWS_EC2_METADATA_SERVICE_ENDPOINT='(http://127\.0\.0\.1:\d+/)'$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, " AWS_EC2_METADATA_DISABLED") {
		t.Fatalf("env --imds: %s", out)
	}
	env := append(clientEnv(t, "", ""), "AWS_EC2_METADATA_DISABLED=false", "AWS_EC2_METADATA_SERVICE_ENDPOINT="+m[1])
	wantAssumed(t, "IMDS", goCallerIdentity(t, env, stsURL), "dev")
}

// runClient runs an external client (AWS CLI, boto3, the JS SDK) and
// returns the Arn it printed.
func runClient(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	desktoptest.SkipShort(t, "runs "+name)
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	var id struct{ Arn string }
	if err := json.Unmarshal(lastLine(out), &id); err != nil {
		t.Fatalf("%s printed %q: %v", name, out, err)
	}
	return id.Arn
}

func lastLine(b []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			last = append([]byte(nil), l...)
		}
	}
	if bytes.HasPrefix(last, []byte("}")) {
		return b // pretty-printed JSON: the whole output
	}
	return last
}
