package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

// readmeClient is a real client run after a README section: it reports
// what proves it got the slot's credentials (an assumed-role ARN, or the
// access key it signed with) and what it printed on stderr.
type readmeClient struct {
	name string
	// run returns the proof, the client's stderr, and an error; skip is
	// why the client is missing, with the command that installs it.
	run func(t *testing.T, env []string, stsURL string) (proof, stderr string, err error)
}

// readmeClients: Debian's awscli and boto3, the Go SDK v2, the JavaScript
// SDK v3 and rclone (aws-sdk-go v1), as a Debian 12 user has them.
func readmeClients(t *testing.T) []readmeClient {
	sts := func(argv ...string) func(*testing.T, []string, string) (string, string, error) {
		return func(t *testing.T, env []string, stsURL string) (string, string, error) {
			out, stderr, err := runWithStderr(append(env, "STS_ENDPOINT="+stsURL), argv)
			if err != nil {
				return "", stderr, err
			}
			arn, err := arnOf(out)
			return arn, stderr, err
		}
	}
	return []readmeClient{
		{"Debian awscli", sts(debianAWS, "sts", "get-caller-identity", "--endpoint-url", "$STS_ENDPOINT", "--output", "json")},
		{"Debian python3-boto3", sts(debianPython, "-c", boto3Script)},
		{"Go SDK v2", func(t *testing.T, env []string, stsURL string) (string, string, error) {
			return goCallerIdentity(t, env, stsURL), "", nil
		}},
		{"JavaScript SDK v3", func(t *testing.T, env []string, stsURL string) (string, string, error) {
			// Its warning about this machine's node version (not about
			// rolecall) is turned off, so that any other line shows.
			return sts("node", filepath.Join("testdata/js", "client.mjs"))(t, append(env, "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true"), stsURL)
		}},
		{"rclone", rcloneKey},
	}
}

// readmeClientMissing says why a client cannot run here, with what installs it.
func readmeClientMissing(name string) string {
	switch name {
	case "Debian awscli":
		if _, err := os.Stat(debianAWS); err != nil {
			return "Debian's AWS CLI is missing: sudo apt-get install awscli"
		}
	case "Debian python3-boto3":
		if exec.Command(debianPython, "-c", "import boto3").Run() != nil {
			return "Debian's boto3 is missing: sudo apt-get install python3-boto3"
		}
	case "JavaScript SDK v3":
		if _, missing := nodeClient("@aws-sdk/client-sts", "client.mjs"); missing != "" {
			return missing
		}
	case "rclone":
		if _, err := exec.LookPath("rclone"); err != nil {
			return "rclone is missing: sudo apt-get install rclone"
		}
	}
	return ""
}

// runWithStderr runs argv ($STS_ENDPOINT in it expanded from env) with env.
func runWithStderr(env, argv []string) (string, string, error) {
	for i, a := range argv {
		if a == "$STS_ENDPOINT" {
			for _, kv := range env {
				if v, ok := strings.CutPrefix(kv, "STS_ENDPOINT="); ok {
					argv[i] = v
				}
			}
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), stderr.String(), err
}

func arnOf(out string) (string, error) {
	m := regexp.MustCompile(`"Arn":\s*"([^"]+)"`).FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no Arn in %q", out)
	}
	return m[1], nil
}

// rcloneKey lists the buckets of an S3 stand-in with rclone (env_auth: the
// SDK v1 chain) and returns the access key its request was signed with.
func rcloneKey(t *testing.T, env []string, _ string) (string, string, error) {
	var mu sync.Mutex
	var auth string
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>x</ID></Owner><Buckets></Buckets></ListAllMyBucketsResult>`)
	}))
	defer s3.Close()
	_, stderr, err := runWithStderr(env, []string{"rclone", "lsd", ":s3:", "--config", filepath.Join(t.TempDir(), "rclone.conf"),
		"--s3-provider", "AWS", "--s3-env-auth", "--s3-endpoint", s3.URL, "--s3-region", "us-east-1", "--retries", "1", "--low-level-retries", "1"})
	if err != nil {
		return "", stderr, err
	}
	mu.Lock()
	defer mu.Unlock()
	m := regexp.MustCompile(`Credential=([A-Z0-9]+)/`).FindStringSubmatch(auth)
	if m == nil {
		return "", stderr, fmt.Errorf("rclone's request was not signed: %q", auth)
	}
	return m[1], stderr, nil
}

// readmeBlock is the first fenced code block of the README section titled
// heading.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no section %q", heading)
	}
	m := regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindStringSubmatch(sec)
	if m == nil {
		t.Fatalf("README section %q has no code block", heading)
	}
	return m[1]
}

// shellAfter runs script in bash, in a shell with the usual leftovers
// (a profile, keys, a stale token and token file) and rolecall on PATH,
// and returns the environment it leaves.
func shellAfter(t *testing.T, script string) []string {
	t.Helper()
	bin := builtBinary(t)
	env := append(clientEnv(t, "", ""),
		"ROLECALL_SOCKET="+os.Getenv("ROLECALL_SOCKET"),
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"SHELL=/bin/bash",
		"AWS_PROFILE=leftover", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=stale-token-from-yesterday",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/nonexistent/stale-token-file")
	cmd := exec.Command("bash", "-c", "set -e\n"+script+"\nenv -0")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash -c %q: %v", script, err)
	}
	var after []string
	for _, kv := range strings.Split(string(out), "\x00") {
		if kv != "" {
			after = append(after, kv)
		}
	}
	return after
}

// runReadmeClients runs every client with env and checks each got dev's
// credentials (key: dev's access key, for rclone) with nothing on stderr
// from the JavaScript SDK: it warns there on every fetch when it is given
// both token forms.
func runReadmeClients(t *testing.T, env []string, stsURL string, key func() string) {
	t.Helper()
	for _, c := range readmeClients(t) {
		t.Run(c.name, func(t *testing.T) {
			if missing := readmeClientMissing(c.name); missing != "" {
				skipOrFail(t, missing)
			}
			proof, stderr, err := c.run(t, env, stsURL)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "rclone" {
				if want := key(); proof != want {
					t.Errorf("rclone signed with %s, want the slot's key %s", proof, want)
				}
			} else {
				wantAssumed(t, c.name, proof, "dev")
			}
			if c.name == "JavaScript SDK v3" && strings.TrimSpace(stderr) != "" {
				t.Errorf("the JavaScript SDK printed on stderr:\n%s", stderr)
			}
		})
	}
}

// readmeEngine starts the engine with dev in the default slot and returns
// its environment, moto's URL and the access key of a slot.
func readmeEngine(t *testing.T, imds bool) (control.Env, string, func(slot string) func() string) {
	t.Helper()
	e, stsURL := testEngine(t, func(st *settings.Settings) { st.IMDS = imds })
	mustCLI(t, "load", "--profile", "dev")
	return e.Env(), stsURL, func(slot string) func() string {
		return func() string {
			s, _ := e.Lookup(slot)
			return s.Creds.AccessKeyID
		}
	}
}

// TestReadmeQuickStart runs the Quick start's `eval "$(rolecall env)"`, as
// the README writes it, then every client.
func TestReadmeQuickStart(t *testing.T) {
	desktoptest.SkipShort(t, "runs the AWS clients")
	_, stsURL, keyOf := readmeEngine(t, false)
	key := keyOf(creds.DefaultSlot)
	const line = `eval "$(rolecall env)"`
	if !strings.Contains(readmeBlock(t, "## Quick start"), line) && !strings.Contains(readmeSection(t, "## Quick start"), "\n"+line+"\n") {
		t.Fatalf("the Quick start no longer says %s", line)
	}
	runReadmeClients(t, shellAfter(t, line), stsURL, key)
}

// readmeSection is the text of the README section titled heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, _ := os.ReadFile("README.md")
	_, sec, _ := strings.Cut(string(b), "\n"+heading+"\n")
	sec, _, _ = strings.Cut(sec, "\n## ")
	return sec
}

// TestReadmeIDESetup: the IDE setup block names the variables "Copy IDE
// settings" gives, and those lines, as a run configuration holds them,
// serve every client.
func TestReadmeIDESetup(t *testing.T) {
	desktoptest.SkipShort(t, "runs the AWS clients")
	env, stsURL, keyOf := readmeEngine(t, false)
	key := keyOf(creds.DefaultSlot)
	ide := ideSettings(env) // what the tray's "Copy IDE settings" copies
	var vars []string
	keysOf := func(block string) []string {
		var keys []string
		for _, l := range strings.Split(block, "\n") {
			if k, _, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
				keys = append(keys, k)
			}
		}
		return keys
	}
	for _, l := range strings.Split(ide, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			vars = append(vars, l)
		}
	}
	readme, copied := keysOf(readmeBlock(t, "## IDE setup")), keysOf(ide)
	if strings.Join(readme[:2], " ") != strings.Join(copied[:2], " ") {
		t.Errorf("the README's IDE block has %v, Copy IDE settings gives %v", readme, copied)
	}
	runReadmeClients(t, append(clientEnv(t, "", ""), vars...), stsURL, key)
}

// TestReadmeContainersHostNetwork runs the Containers section's way 1
// (host networking) as written: its `eval` line in a shell, then the
// variables its `docker run` passes by name (`-e NAME`) are what the
// container's clients get (same network, same user).
func TestReadmeContainersHostNetwork(t *testing.T) {
	desktoptest.SkipShort(t, "runs the AWS clients")
	_, stsURL, keyOf := readmeEngine(t, false)
	key := keyOf("dev") // the grant reads dev's named slot
	_, way1, ok := strings.Cut(readmeSection(t, "## Containers"), "**Host networking**")
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(way1)
	if !ok || m == nil || !strings.Contains(m[1], "--network host") {
		t.Fatal("the Containers section has no host-networking block")
	}
	var evals []string
	for _, l := range strings.Split(m[1], "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "eval ") {
			evals = append(evals, l)
		}
	}
	shell := shellAfter(t, strings.Join(evals, "\n"))
	env := clientEnv(t, "", "")
	for _, name := range regexp.MustCompile(`-e (\w+)\b`).FindAllStringSubmatch(m[1], -1) {
		for _, kv := range shell {
			if strings.HasPrefix(kv, name[1]+"=") {
				env = append(env, kv)
			}
		}
	}
	if len(env) == len(clientEnv(t, "", "")) {
		t.Fatalf("no variable passed to the container:\n%s", m[1])
	}
	runReadmeClients(t, env, stsURL, key)
}

// TestReadmeIMDS runs `eval "$(rolecall env --imds)"` as the README writes
// it against a rolecall serving IMDS; the shell had
// AWS_EC2_METADATA_DISABLED=true (the CDK sets it itself), which the
// exports turn back.
func TestReadmeIMDS(t *testing.T) {
	desktoptest.SkipShort(t, "runs the AWS clients")
	_, stsURL, keyOf := readmeEngine(t, true)
	key := keyOf(creds.DefaultSlot)
	const line = `eval "$(rolecall env --imds)"`
	if !strings.Contains(readmeSection(t, "## Quick start"), line) {
		t.Fatalf("the Quick start no longer says %s", line)
	}
	runReadmeClients(t, shellAfter(t, line), stsURL, key)
}
