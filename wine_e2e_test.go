//go:build linux

package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/fakeidc"
)

// wineEnv names the command that runs a Windows program under wine (made
// by build/wine-test.sh: a chroot with wine 10 that shares this machine's
// loopback and sees the repository at its own path).
const wineEnv = "ROLECALL_WINE"

// winPath is the Windows name (wine's Z: drive) of a host path.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// TestWindowsEndToEnd runs the Windows builds under wine against the fake
// Identity Center and moto's STS on this machine: `rolecall.exe serve`
// (the tray build); rolecall-cli.exe verbs over the named pipe (list,
// login approved in the fake, load, env, credential-process, a second
// serve refused, autostart registering rolecall.exe); and a Windows Go program using the SDK's
// default credential chain (FULL_URI + token file) calling moto's STS with
// the credentials it got from rolecall.
func TestWindowsEndToEnd(t *testing.T) {
	wine := os.Getenv(wineEnv)
	if wine == "" {
		t.Skip("runs the Windows builds under wine: make test-windows (build/wine-test.sh) sets " + wineEnv)
	}
	stsURL := moto(t)
	fake := fakeidc.New()
	defer fake.Close()
	fake.Accounts = []fakeidc.Account{{ID: "111111111111", Name: "dev", Roles: []string{"Admin"}, StartURL: fake.URL + "/start"}}
	fake.Mint = motoMint(t, stsURL)

	dir := t.TempDir()
	trayExe, cliExe, sdkExe := buildWindows(t, dir)
	cfg := filepath.Join(dir, "aws-config")
	os.WriteFile(cfg, []byte("[sso-session corp]\nsso_start_url = "+fake.URL+"/start\nsso_region = us-east-1\n\n"+
		"[profile dev]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Admin\n"), 0o600)
	port := freePort(t)
	settingsFile := filepath.Join(dir, "config.toml")
	os.WriteFile(settingsFile, []byte("port = "+port+"\n"), 0o600)
	env := []string{
		"AWS_CONFIG_FILE=" + winPath(cfg), "AWS_SHARED_CREDENTIALS_FILE=" + winPath(filepath.Join(dir, "none")),
		"ROLECALL_CONFIG=" + winPath(settingsFile),
		"AWS_ENDPOINT_URL_SSO_OIDC=" + fake.URL, "AWS_ENDPOINT_URL_SSO=" + fake.URL, "AWS_ENDPOINT_URL_STS=" + stsURL,
	}
	run := func(env []string, exe string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, wine, append([]string{exe}, args...)...)
		cmd.Env, cmd.Dir = env, dir
		// wine's own helpers (services.exe, winedevice.exe) may keep
		// the output pipe open after the program exits.
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	logs := &syncBuffer{}
	serve := exec.Command(wine, trayExe, "serve", "--port", port)
	serve.Env, serve.Dir, serve.Stdout, serve.Stderr = env, dir, logs, logs
	serve.WaitDelay = time.Second
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://127.0.0.1:" + port + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rolecall.exe serve: no /healthz answer in 60 s:\n%s", logs.String())
		}
	}
	verb := func(args ...string) string {
		t.Helper()
		out, err := run(env, cliExe, args...)
		if err != nil {
			t.Fatalf("rolecall-cli.exe %s: %v\n%s\nserve logs:\n%s", strings.Join(args, " "), err, out, logs.String())
		}
		return out
	}

	if out := verb("list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("list --json: %q", out)
	}
	if out, err := run(env, cliExe, "load", "--profile", "dev"); err == nil || !strings.Contains(out, "rolecall login") {
		t.Errorf("load before login: %v %q", err, out)
	}
	go func() {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if codes := fake.PendingCodes(); len(codes) == 1 {
				fake.Approve(codes[0])
				return
			}
		}
	}()
	if out := verb("login", "--sso-session", "corp", "--no-browser"); !strings.Contains(out, "signed in to corp") {
		t.Errorf("login printed %q", out)
	}
	verb("load", "--profile", "dev")
	envOut := verb("env", "--shell", "sh", "--token-file-only")
	get := func(k string) string {
		m := regexp.MustCompile(`(?m)^export ` + k + `='([^']*)'\r?$`).FindStringSubmatch(envOut)
		if m == nil {
			t.Fatalf("no %s in %q", k, envOut)
		}
		return m[1]
	}
	sdkEnv := []string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
		"AWS_ENDPOINT_URL_STS=" + stsURL, "AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + winPath(filepath.Join(dir, "none")), "AWS_SHARED_CREDENTIALS_FILE=" + winPath(filepath.Join(dir, "none")),
	}
	if out, err := run(sdkEnv, sdkExe); err != nil || !strings.Contains(out, ":assumed-role/Admin/") {
		t.Errorf("Go SDK under wine: %v %q", err, out)
	}

	// credential-process reads the keys over the pipe (GET /v1/credentials).
	if out := verb("credential-process", "--profile", "dev"); !strings.Contains(out, `"Version": 1`) && !strings.Contains(out, `"Version":1`) {
		t.Errorf("credential-process: %q", out)
	}

	if out, err := run(env, trayExe, "serve", "--port", freePort(t)); err == nil || !strings.Contains(out, "already running") {
		t.Errorf("second serve: %v %q", err, out)
	}
	if out := verb("autostart", "on"); !strings.Contains(out, "starts at login") {
		t.Errorf("autostart on: %q", out)
	}
	out, err := run(env, "reg", "query", `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`, "/v", "rolecall")
	if err != nil || !strings.Contains(out, winPath(trayExe)) {
		t.Errorf("Run key after rolecall-cli.exe autostart on: %v %q; want %s", err, out, winPath(trayExe))
	}
	verb("autostart", "off")
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs.String())
	}
}

// buildWindows builds rolecall.exe (the tray build, no console),
// rolecall-cli.exe and the SDK client for windows/amd64 into dir.
func buildWindows(t *testing.T, dir string) (trayExe, cliExe, sdkExe string) {
	t.Helper()
	trayExe, cliExe, sdkExe = filepath.Join(dir, "rolecall.exe"), filepath.Join(dir, "rolecall-cli.exe"), filepath.Join(dir, "sdkclient.exe")
	for _, b := range [][]string{
		{"-ldflags", "-H windowsgui", "-o", trayExe, "."},
		{"-o", cliExe, "."},
		{"-o", sdkExe, "./internal/sdkclient"},
	} {
		cmd := exec.Command("go", append([]string{"build"}, b...)...)
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", b, err, out)
		}
	}
	return trayExe, cliExe, sdkExe
}
