package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/server/control"
)

// TestEditedProfileReloadedAcrossTheCLI: a profile edited in the AWS
// config while rolecall runs (another account and role) and loaded again
// with `rolecall load` serves the new role, to the AWS CLI too, never the
// old role's kept credentials; and a slot unloaded with `rolecall unload`
// is not loaded again by a client asking for it; `rolecall login --force`
// starts a new Identity Center session.
func TestEditedProfileReloadedAcrossTheCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		skipOrFail(t, "the AWS CLI (aws) is missing: sudo apt-get install awscli")
	}
	desktoptest.SkipShort(t, "starts rolecall serve, moto and a Secret Service")
	stsURL := moto(t)
	s := desktoptest.Start(t)
	s.StartKeyring(t)
	fake := fakeidc.New(
		fakeidc.Account{ID: "111111111111", Name: "dev", Roles: []string{"Admin"}},
		fakeidc.Account{ID: "222222222222", Name: "prod", Roles: []string{"ReadOnly"}},
	)
	defer fake.Close()
	fake.Mint = motoMint(t, stsURL)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "aws-config")
	write := func(account, role string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte("[sso-session corp]\nsso_start_url = "+fake.URL+"/start\nsso_region = us-east-1\n\n"+
			"[profile work]\nsso_session = corp\nsso_account_id = "+account+"\nsso_role_name = "+role+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("111111111111", "Admin")
	pathEnv, _ := fakeBrowser(t, dir)
	env := append(os.Environ(), s.Env...)
	env = append(env, pathEnv, "ROLECALL_SOCKET=", "AWS_CONFIG_FILE="+cfg, "HOME="+dir,
		"AWS_ENDPOINT_URL_SSO_OIDC="+fake.URL, "AWS_ENDPOINT_URL_SSO="+fake.URL, "AWS_ENDPOINT_URL_STS="+stsURL)
	p := startServe(t, env, freePort(t))
	must := func(args ...string) string {
		t.Helper()
		out, err := p.verb(args...)
		if err != nil {
			t.Fatalf("rolecall %s: %v\n%s\nserve logs:\n%s", strings.Join(args, " "), err, out, p.logs.String())
		}
		return out
	}
	roleOf := func() string {
		t.Helper()
		var slots []control.SlotInfo
		if err := json.Unmarshal([]byte(must("list", "--json")), &slots); err != nil {
			t.Fatal(err)
		}
		for _, sl := range slots {
			if sl.Slot == "work" {
				return sl.RoleARN
			}
		}
		return ""
	}
	must("login", "--sso-session", "corp")
	must("load", "--profile", "work", "--slot")
	if arn := roleOf(); arn != "arn:aws:iam::111111111111:role/Admin" {
		t.Fatalf("work serves %q before the edit", arn)
	}
	must("unload", "--profile", "work")

	// A client still asking for it gets a 404 that says why.
	token := strings.TrimSpace(must("token"))
	req, _ := http.NewRequest(http.MethodGet, p.url+"/slot/work", nil)
	req.Header.Set("Authorization", token)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		var body struct{ Message string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body.Message, "unloaded") {
			t.Errorf("GET /slot/work after its unload: %d %q, want 404 saying it was unloaded", resp.StatusCode, body.Message)
		}
	}

	write("222222222222", "ReadOnly")
	must("load", "--profile", "work", "--slot")
	if arn := roleOf(); arn != "arn:aws:iam::222222222222:role/ReadOnly" {
		t.Errorf("after the edit work serves %q, want the edited role", arn)
	}
	if arn := awsCLICaller(t, must, stsURL, "work"); !strings.Contains(arn, ":assumed-role/ReadOnly/") {
		t.Errorf("the AWS CLI is %s, want the edited role ReadOnly", arn)
	}

	// A new session: the portal's Logout ends the current one, and the
	// login that follows gives a token Identity Center accepts.
	must("login", "--sso-session", "corp", "--force")
	if n := fake.Calls("Logout"); n != 1 {
		t.Errorf("Logout calls = %d after login --force, want 1", n)
	}
	if out := must("roles"); !strings.Contains(out, "prod/ReadOnly") {
		t.Errorf("roles after a new session:\n%s", out)
	}
}
