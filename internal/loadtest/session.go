package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
)

// rig adapts the test rig's helpers (internal/desktoptest takes a
// testing.TB) to this program: a failure or a skip ends the measurement
// with its message, cleanups run at the end. The embedded interface is
// nil: only the methods below may be called.
type rig struct {
	testing.TB
	cleanups []func()
}

type rigStop struct{ msg string }

func (r *rig) Helper()                   {}
func (r *rig) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *rig) Fatal(a ...any)            { panic(rigStop{fmt.Sprint(a...)}) }
func (r *rig) Fatalf(f string, a ...any) { panic(rigStop{fmt.Sprintf(f, a...)}) }
func (r *rig) Skip(a ...any)             { panic(rigStop{fmt.Sprint(a...)}) }
func (r *rig) Skipf(f string, a ...any)  { panic(rigStop{fmt.Sprintf(f, a...)}) }

// run calls f, turning a rig failure into an error, and then runs the
// cleanups, last first.
func (r *rig) run(f func() error) (err error) {
	defer func() {
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		if p := recover(); p != nil {
			s, ok := p.(rigStop)
			if !ok {
				panic(p)
			}
			err = errors.New(s.msg)
		}
	}()
	return f()
}

// sessionStartup measures `rolecall serve` with a stored session: a
// private session bus with gnome-keyring, the fake Identity Center, one
// run that signs in (a fake browser approves) and loads dev/Admin into
// the default slot, then n restarts, each timed from exec to the first
// 200 on GET / (the default slot restored from state.json, the session
// token read from the keyring, the role credentials fetched). It returns
// the median and the fastest and slowest restart.
func sessionStartup(bin string, n int) (med, lo, hi time.Duration, err error) {
	r := &rig{}
	err = r.run(func() error {
		s := desktoptest.Start(r)
		s.StartKeyring(r)
		fake := fakeidc.New(fakeidc.Account{ID: "111111111111", Name: "dev", Roles: []string{"Admin"}})
		r.Cleanup(fake.Close)
		env, port, err := sessionEnv(s, fake.URL)
		if err != nil {
			return err
		}
		if err := signIn(bin, env, port, s.Dir); err != nil {
			return err
		}
		tokenFile := filepath.Join(s.Dir, "state", "rolecall", "token")
		var times []time.Duration
		for range n {
			t, err := timeServe(bin, env, port, tokenFile, "/")
			if err != nil {
				return err
			}
			times = append(times, t)
		}
		slices.Sort(times)
		med, lo, hi = times[len(times)/2], times[0], times[len(times)-1]
		return nil
	})
	return med, lo, hi, err
}

// sessionEnv writes the AWS config (one sso-session, profile dev), the
// settings and a fake browser, and returns the environment of rolecall.
func sessionEnv(s *desktoptest.Session, idc string) ([]string, string, error) {
	dir := s.Dir
	cfg := filepath.Join(dir, "aws-config")
	if err := os.WriteFile(cfg, []byte("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\n"+
		"[profile dev]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = Admin\n"), 0o600); err != nil {
		return nil, "", err
	}
	bindir := filepath.Join(dir, "bin")
	os.MkdirAll(bindir, 0o755)
	// xdg-open: visiting the verification URL approves the code.
	script := "#!/bin/sh\nexec python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1]).read()' \"$1\"\n"
	if err := os.WriteFile(filepath.Join(bindir, "xdg-open"), []byte(script), 0o755); err != nil {
		return nil, "", err
	}
	env := append(append(os.Environ(), s.Env...), "PATH="+bindir+":"+os.Getenv("PATH"), "ROLECALL_SOCKET=",
		"AWS_CONFIG_FILE="+cfg, "HOME="+dir, "AWS_ENDPOINT_URL_SSO_OIDC="+idc, "AWS_ENDPOINT_URL_SSO="+idc)
	return env, freePort(), nil
}

// signIn is the first run: serve, login, load dev into the default slot,
// wait until state.json remembers it, stop.
func signIn(bin string, env []string, port, dir string) error {
	cmd := exec.Command(bin, "serve", "--port", port)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for _, args := range [][]string{{"list"}, {"login", "--sso-session", "corp"}, {"load", "--profile", "dev"}} {
		var out []byte
		var err error
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			c := exec.CommandContext(ctx, bin, args...)
			c.Env = env
			out, err = c.CombinedOutput()
			cancel()
			if err == nil || args[0] != "list" || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("rolecall %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	state := filepath.Join(dir, "state", "rolecall", "state.json")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var st struct{ Default string }
		b, _ := os.ReadFile(state)
		if json.Unmarshal(b, &st) == nil && st.Default != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("state.json never remembered the default slot: %q", b)
		}
	}
}

// timeServe starts `rolecall serve` and times exec to the first 200 on
// path with the token of tokenFile (read before the start: the token of
// the earlier run), then stops it.
func timeServe(bin string, env []string, port, tokenFile, path string) (time.Duration, error) {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return 0, err
	}
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+path, nil)
	req.Header.Set("Authorization", string(tok))
	cmd := exec.Command(bin, "serve", "--port", port)
	cmd.Env = env
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for {
		resp, err := cl.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(t0), nil
			}
		}
		if time.Since(t0) > 10*time.Second {
			return 0, fmt.Errorf("%s serve: no 200 on %s within 10 s (last: %v)", bin, path, err)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
