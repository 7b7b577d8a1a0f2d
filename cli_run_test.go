package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/server/control"
	"github.com/rolecall/rolecall/settings"
)

func TestRunVerbsUsage(t *testing.T) {
	t.Setenv(control.SocketEnv, filepath.Join(t.TempDir(), "none.sock"))
	tests := []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"exec"}, 2, "name the command to run after --"},
		{[]string{"exec", "--profile", "dev"}, 2, "name the command to run after --"},
		{[]string{"credential-process"}, 2, "name the role with --profile"},
		{[]string{"console", "extra"}, 2, "unexpected argument"},
		{[]string{"exec", "--", "true"}, 1, "rolecall is not running"},
		{[]string{"credential-process", "--profile", "dev"}, 1, "rolecall is not running"},
		{[]string{"exec", "-h"}, 0, "rolecall exec --profile prod -- terraform plan"},
		{[]string{"credential-process", "-h"}, 0, "credential_process = rolecall credential-process --profile dev"},
		{[]string{"console", "-h"}, 0, "rolecall console --profile prod"},
		{[]string{"login", "-h"}, 0, "--pkce"},
		{[]string{"ssh"}, 2, "name the destination"},
		{[]string{"ssh", "--profile", "dev", "-N", "box"}, 2, "-N runs no remote command"},
		{[]string{"ssh", "box", "-p"}, 2, "-p needs a value"},
		{[]string{"ssh", "--profile", "dev", "box", "--", "true"}, 1, "rolecall is not running"},
		{[]string{"ssh", "-h"}, 0, "rolecall ssh --profile dev me@devbox -- aws sts get-caller-identity"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, rc := cliRun(t, tt.args...)
			if tt.rc == 0 {
				errOut = out // help asked for goes to stdout
			}
			if rc != tt.rc || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, output %q; want exit %d containing %q", rc, errOut, tt.rc, tt.want)
			}
		})
	}
}

// TestExecChildGoSDK is not a test of its own: run by TestExec as the
// command of `rolecall exec`, it resolves credentials with the Go SDK's
// default chain and prints the caller's ARN from moto's STS.
func TestExecChildGoSDK(t *testing.T) {
	if os.Getenv("ROLECALL_EXEC_CHILD") != "1" {
		t.Skip("the child of TestExec")
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(os.Getenv("STS_ENDPOINT")) }).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString(`{"Arn":"` + *out.Arn + `"}` + "\n")
}

// execEnv is a client's environment as a shell with stale settings would
// hand it to `rolecall exec`: every shadowing variable set.
func execEnv(t *testing.T, stsURL string) []string {
	env := clientEnv(t, "", "")
	return append(env, control.SocketEnv+"="+os.Getenv(control.SocketEnv), "STS_ENDPOINT="+stsURL,
		"AWS_PROFILE=stale", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/stale", "AWS_DEFAULT_PROFILE=stale", "AWS_SECURITY_TOKEN=stale",
		"AWS_ROLE_ARN=arn:aws:iam::123456789012:role/stale", "AWS_WEB_IDENTITY_TOKEN_FILE="+filepath.Join(t.TempDir(), "stale-web-identity"))
}

// TestExec: `rolecall exec` (the built binary) runs the AWS CLI and a Go
// SDK program with a named slot it loads itself and with the default
// slot; exit statuses and SIGTERM pass through.
func TestExec(t *testing.T) {
	desktoptest.SkipShort(t, "runs the built binary and AWS clients")
	_, stsURL := testEngine(t, nil)
	bin := builtBinary(t)
	env := execEnv(t, stsURL)
	rc := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.Output()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	goChild := []string{os.Args[0], "-test.run=^TestExecChildGoSDK$", "-test.count=1"}
	env = append(env, "ROLECALL_EXEC_CHILD=1")
	out, code := rc(append([]string{"exec", "--profile", "ops", "--"}, goChild...)...)
	if code != 0 {
		t.Fatalf("exec Go SDK child: exit %d: %s", code, out)
	}
	wantAssumed(t, "Go SDK under exec", string(lastLine([]byte(strings.Split(out, "PASS")[0]))), "ops")
	if _, err := exec.LookPath("aws"); err == nil {
		mustCLI(t, "load", "--profile", "dev")
		out, code = rc("exec", "--", "aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json")
		if code != 0 {
			t.Fatalf("exec aws: exit %d: %s", code, out)
		}
		wantAssumed(t, "AWS CLI under exec (default slot)", string(lastLine([]byte(out))), "dev")
	} else {
		skipOrFail(t, "the AWS CLI (aws) is missing")
	}
	if _, code := rc("exec", "--profile", "ops", "--", "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("exit 3 came back as %d", code)
	}
	if _, code := rc("exec", "--", "no-such-command-rolecall"); code != 127 {
		t.Errorf("a missing command: exit %d, want 127", code)
	}
	plain := filepath.Join(t.TempDir(), "not-executable")
	os.WriteFile(plain, []byte("#!/bin/sh\nexit 0\n"), 0o644)
	if _, code := rc("exec", "--", plain); code != 126 {
		t.Errorf("a file that is not executable: exit %d, want 126", code)
	}
	execIsTheCommand(t, bin, env)
	execSIGTERM(t, bin, env)
}

// execIsTheCommand: the command of `rolecall exec` is the process that was
// started (rolecall replaced itself), so a terminal's Ctrl-C, sent to the
// foreground group, reaches it once and nobody forwards a second one; and
// none of the variables that win over the endpoint is left in its
// environment.
func execIsTheCommand(t *testing.T, bin string, env []string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, "exec", "--", "sh", "-c", `echo "pid=$$"; env`)
	cmd.Env, cmd.Stdout = env, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("exec sh: %v\n%s", err, out.String())
	}
	if want := fmt.Sprintf("pid=%d\n", cmd.Process.Pid); !strings.HasPrefix(out.String(), want) {
		t.Errorf("the command runs as %q, want %q (the process rolecall was): a parent in between forwards Ctrl-C a second time", firstLine(out.String()), want)
	}
	for _, k := range shadowing {
		if strings.Contains(out.String(), "\n"+k+"=") {
			t.Errorf("%s is still set for the command", k)
		}
	}
}

// execSIGTERM sends SIGTERM to `rolecall exec` and expects its command to
// get it and its exit status to come back.
func execSIGTERM(t *testing.T, bin string, env []string) {
	t.Helper()
	script := `import os, signal, time
signal.signal(signal.SIGTERM, lambda *a: (os.write(1, b"got SIGTERM\n"), os._exit(42)))
os.write(1, b"ready\n")
time.sleep(30)
os._exit(1)`
	cmd := exec.Command(bin, "exec", "--", "python3", "-c", script)
	cmd.Env = env
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start: %q", sc.Text())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	got := ""
	for sc.Scan() {
		got += sc.Text() + "\n"
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if got != "got SIGTERM\n" || !errors.As(err, &exit) || exit.ExitCode() != 42 {
		t.Errorf("after SIGTERM: output %q, %v (stderr %q); want the child's handler and exit 42", got, err, stderr.String())
	}
}

// TestCredentialProcess: a profile whose credential_process is rolecall
// serves the AWS CLI and boto3 with --profile, against moto's STS.
func TestCredentialProcess(t *testing.T) {
	desktoptest.SkipShort(t, "runs the built binary and AWS clients")
	_, stsURL := testEngine(t, nil)
	bin := builtBinary(t)
	env := clientEnv(t, "", "")
	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, []byte("[profile rc-prod]\ncredential_process = "+bin+" credential-process --profile prod\nregion = us-east-1\n"), 0o600)
	env = append(env, "AWS_CONFIG_FILE="+cfg, control.SocketEnv+"="+os.Getenv(control.SocketEnv), "STS_ENDPOINT="+stsURL)

	if _, err := exec.LookPath("aws"); err != nil {
		skipOrFail(t, "the AWS CLI (aws) is missing")
	} else {
		arn := runClient(t, env, "aws", "--profile", "rc-prod", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json")
		wantAssumed(t, "AWS CLI with credential_process", arn, "prod")
	}
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		skipOrFail(t, "boto3 is missing (pip install boto3)")
	} else {
		script := `import json, os, boto3
sts = boto3.Session(profile_name="rc-prod").client("sts", endpoint_url=os.environ["STS_ENDPOINT"])
print(json.dumps({"Arn": sts.get_caller_identity()["Arn"]}))`
		wantAssumed(t, "boto3 with credential_process", runClient(t, env, "python3", "-c", script), "prod")
	}
	// The output itself: version 1 and the four fields.
	out := mustCLI(t, "credential-process", "--profile", "prod")
	for _, k := range []string{`"Version": 1`, `"AccessKeyId": "`, `"SecretAccessKey": "`, `"SessionToken": "`, `"Expiration": "`} {
		if !strings.Contains(out, k) {
			t.Errorf("credential-process output lacks %s:\n%s", k, out)
		}
	}
}

// TestSlotOnDemandAfterRestart: with nothing loaded (as after a restart),
// the Go SDK and the AWS CLI pointed at /slot/<profile> succeed on their
// first call; with slots_on_demand = false the slot stays 404.
func TestSlotOnDemandAfterRestart(t *testing.T) {
	e, stsURL := testEngine(t, nil)
	_, tokenFile := envOf(t)
	base := e.Env().FullURI
	wantAssumed(t, "Go SDK, slot on demand", goCallerIdentity(t, clientEnv(t, base+"slot/ondemand-go", tokenFile), stsURL), "ondemand-go")
	if _, err := exec.LookPath("aws"); err != nil {
		skipOrFail(t, "the AWS CLI (aws) is missing")
	} else {
		arn := runClient(t, clientEnv(t, base+"slot/ondemand-cli", tokenFile), "aws", "sts", "get-caller-identity", "--endpoint-url", stsURL, "--output", "json")
		wantAssumed(t, "AWS CLI, slot on demand", arn, "ondemand-cli")
	}
	if out := mustCLI(t, "list"); !strings.Contains(out, "ondemand-go") {
		t.Errorf("slot loaded on demand not listed:\n%s", out)
	}
	// Off by setting: the same request is a 404.
	off, _ := testEngine(t, func(s *settings.Settings) { s.SlotsOnDemand = false })
	if code := getStatus(t, off.Env().FullURI+"slot/ondemand-go", off.Env().Token); code != 404 {
		t.Errorf("slots_on_demand = false: %d, want 404", code)
	}
}
