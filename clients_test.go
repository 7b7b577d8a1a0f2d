package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// The token forms a client can be given.
const (
	formToken = "_TOKEN"
	formFile  = "_TOKEN_FILE"
	formBoth  = "both"
)

// extClient is a real AWS client: how to find it on a Debian 12 machine,
// how to run it, and whether it reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
type extClient struct {
	name string
	// find returns the command line (STS_ENDPOINT is in its environment),
	// or why the client is missing with a command that installs it.
	find func(stsURL string) (argv []string, missing string)
	// readsFile: the client knows _TOKEN_FILE. Those that do not fail
	// with the file alone, which is why `rolecall env` exports _TOKEN.
	readsFile bool
}

// externalClients are every client a Debian user has, from apt, pip, npm
// and the Go module proxy.
var externalClients = []extClient{
	{"Go SDK v2", nil, true}, // in-process: goCallerIdentity
	{"Go SDK v1 (aws-sdk-go 1.55)", func(string) ([]string, string) {
		bin, err := buildGoV1()
		if err != nil {
			return nil, "the Go SDK v1 client did not build (it needs the Go module proxy): " + err.Error()
		}
		return []string{bin}, ""
	}, true},
	{"AWS CLI v1 (pip)", func(stsURL string) ([]string, string) {
		bin := pipAWS()
		if bin == "" {
			return nil, "no AWS CLI v1 from pip on PATH: python3 -m venv ~/.venv/awscli && ~/.venv/awscli/bin/pip install awscli, then put ~/.venv/awscli/bin on PATH"
		}
		return []string{bin, "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json"}, ""
	}, true},
	{"AWS CLI v2 (Debian awscli)", func(stsURL string) ([]string, string) {
		if _, err := os.Stat(debianAWS); err != nil {
			return nil, "Debian's AWS CLI is missing: sudo apt-get install awscli"
		}
		return []string{debianAWS, "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json"}, ""
	}, false},
	{"boto3 (pip)", func(string) ([]string, string) {
		py, err := exec.LookPath("python3")
		if err != nil || py == debianPython || exec.Command(py, "-c", "import boto3").Run() != nil {
			return nil, "no boto3 from pip apart from Debian's: python3 -m venv ~/.venv/boto3 && ~/.venv/boto3/bin/pip install boto3, then put ~/.venv/boto3/bin first on PATH"
		}
		return []string{py, "-c", boto3Script}, ""
	}, true},
	{"boto3 (Debian python3-boto3)", func(string) ([]string, string) {
		if exec.Command(debianPython, "-c", "import boto3").Run() != nil {
			return nil, "Debian's boto3 is missing: sudo apt-get install python3-boto3"
		}
		return []string{debianPython, "-c", boto3Script}, ""
	}, false},
	{"JavaScript SDK v3", func(string) ([]string, string) {
		return nodeClient("@aws-sdk/client-sts", "client.mjs")
	}, true},
	{"JavaScript SDK v3 fromContainerMetadata", func(string) ([]string, string) {
		return nodeClient("@aws-sdk/credential-providers", "client.mjs", "container-metadata")
	}, false},
	{"JavaScript SDK v2 (aws-sdk 2.x)", func(string) ([]string, string) {
		return nodeClient("aws-sdk", "client-v2.cjs")
	}, true},
}

const (
	debianAWS    = "/usr/bin/aws"
	debianPython = "/usr/bin/python3"
)

const boto3Script = `
import json, os, boto3
sts = boto3.client("sts", region_name="us-east-1", endpoint_url=os.environ["STS_ENDPOINT"])
print(json.dumps({"Arn": sts.get_caller_identity()["Arn"]}))
`

// pipAWS is the first `aws` on PATH that is the AWS CLI v1 (the image's
// pip one), not Debian's v2.
func pipAWS() string {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		bin := filepath.Join(dir, "aws")
		if _, err := os.Stat(bin); err != nil {
			continue
		}
		out, _ := exec.Command(bin, "--version").CombinedOutput()
		if strings.HasPrefix(string(out), "aws-cli/1.") {
			return bin
		}
	}
	return ""
}

// nodeClient runs a script of testdata/js once its npm package is there.
func nodeClient(pkg, script string, args ...string) ([]string, string) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, "node is missing: sudo apt-get install nodejs npm"
	}
	if _, err := os.Stat(filepath.Join("testdata/js/node_modules", pkg)); err != nil {
		return nil, "the JavaScript SDKs are not installed: run `make test` (npm ci in testdata/js)"
	}
	return append([]string{"node", filepath.Join("testdata/js", script)}, args...), ""
}

// buildGoV1 builds testdata/gov1, a module of its own, once.
var buildGoV1 = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "rolecall-gov1-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "gov1")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = "testdata/gov1"
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
})

// tokenFormEnv is a clean client environment with the endpoint and the token
// in one form.
func tokenFormEnv(t *testing.T, form, uri, tokenFile, token string) []string {
	env := clientEnv(t, "", "")
	env = append(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI="+uri)
	if form != formToken {
		env = append(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="+tokenFile)
	}
	if form != formFile {
		env = append(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN="+token)
	}
	return env
}

// callClient runs an external client and returns the ARN it printed.
func callClient(env, argv []string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var id struct{ Arn string }
	if err := json.Unmarshal(lastLine(out), &id); err != nil {
		return "", fmt.Errorf("printed %q: %v", out, err)
	}
	if id.Arn == "" {
		return "", errors.New("no Arn printed")
	}
	return id.Arn, nil
}

// TestExternalClients: every client resolves the default slot from the
// endpoint with the token as _TOKEN (what `rolecall env` prints), as
// _TOKEN_FILE (--token-file-only) and as both, and a named slot with both,
// then calls STS on moto. A client that does not read the file must fail
// with the file alone: that is why `rolecall env` exports _TOKEN.
func TestExternalClients(t *testing.T) {
	desktoptest.SkipShort(t, "runs the AWS clients")
	for _, c := range externalClients {
		t.Run(c.name, func(t *testing.T) {
			e, stsURL := testEngine(t, nil)
			var argv []string
			if c.find != nil {
				var missing string
				if argv, missing = c.find(stsURL); missing != "" {
					skipOrFail(t, missing)
				}
			}
			mustCLI(t, "load", "--profile", "dev")
			mustCLI(t, "load", "--profile", "prod", "--slot")
			token := e.Env().Token
			call := func(env []string) (string, error) {
				if argv == nil {
					return goCallerIdentity(t, env, stsURL), nil
				}
				return callClient(append(env, "STS_ENDPOINT="+stsURL), argv)
			}
			uri, tokenFile := envOf(t)
			for _, form := range []string{formToken, formFile, formBoth} {
				arn, err := call(tokenFormEnv(t, form, uri, tokenFile, token))
				switch {
				case form == formFile && !c.readsFile:
					if err == nil {
						t.Errorf("%s: got %s with the token file alone, but this client is known not to read it", form, arn)
					}
				case err != nil:
					t.Errorf("%s: %v", form, err)
				default:
					wantAssumed(t, c.name+" "+form, arn, "dev")
				}
			}
			prodURI, _ := envOf(t, "--profile", "prod")
			arn, err := call(tokenFormEnv(t, formBoth, prodURI, tokenFile, token))
			if err != nil {
				t.Fatalf("named slot: %v", err)
			}
			wantAssumed(t, c.name+" named slot", arn, "prod")
		})
	}
}

// TestQuickStart runs the README's quick start as written, in a shell
// that has the usual leftovers (a profile, keys, a stale token): `eval
// "$(rolecall env)"`, then the AWS CLI, from apt and from pip.
func TestQuickStart(t *testing.T) {
	desktoptest.SkipShort(t, "runs the AWS CLI")
	bin := builtBinary(t)
	for _, c := range externalClients {
		if !strings.HasPrefix(c.name, "AWS CLI") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			_, stsURL := testEngine(t, nil)
			argv, missing := c.find(stsURL)
			if missing != "" {
				skipOrFail(t, missing)
			}
			mustCLI(t, "load", "--profile", "dev")
			env := append(clientEnv(t, "", ""),
				"ROLECALL_SOCKET="+os.Getenv("ROLECALL_SOCKET"),
				"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
				"AWS_PROFILE=leftover", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
				"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
				"AWS_CONTAINER_AUTHORIZATION_TOKEN=stale-token-from-yesterday")
			script := `eval "$(rolecall env)"` + "\n" + shQuote(argv[0]) + ` sts get-caller-identity --endpoint-url "$STS_ENDPOINT" --output json`
			arn, err := callClient(append(env, "STS_ENDPOINT="+stsURL, "SHELL=/bin/bash"), []string{"bash", "-c", script})
			if err != nil {
				t.Fatal(err)
			}
			wantAssumed(t, c.name, arn, "dev")
		})
	}
}

// TestIMDSWithAWSCLIv2: the endpoint `rolecall env --imds` prints works
// with Debian's AWS CLI v2, which appends "latest/api/token" to it as it
// is: without the trailing slash it fails.
func TestIMDSWithAWSCLIv2(t *testing.T) {
	desktoptest.SkipShort(t, "runs the AWS CLI")
	if _, err := os.Stat(debianAWS); err != nil {
		skipOrFail(t, "Debian's AWS CLI is missing: sudo apt-get install awscli")
	}
	_, stsURL := testEngine(t, nil) // IMDS on
	mustCLI(t, "load", "--profile", "dev")
	out := mustCLI(t, "env", "--imds", "--shell", "sh")
	m := regexp.MustCompile(`(?m)^export AWS_EC2_METADATA_SERVICE_ENDPOINT='([^']*/)'$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("env --imds prints no endpoint with a trailing slash:\n%s", out)
	}
	endpoint := m[1]
	argv := []string{debianAWS, "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json"}
	run := func(ep string) (string, error) {
		return callClient(append(clientEnv(t, "", ""), "AWS_EC2_METADATA_DISABLED=false", "AWS_EC2_METADATA_SERVICE_ENDPOINT="+ep), argv)
	}
	arn, err := run(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	wantAssumed(t, "AWS CLI v2 over IMDS", arn, "dev")
	if arn, err := run(strings.TrimSuffix(endpoint, "/")); err == nil {
		t.Errorf("without the trailing slash the AWS CLI v2 got %s: the README's reason for it is wrong", arn)
	}
}
