package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/server/control"
)

// TestEditedProfileReloadedAcrossTheCLI: a profile edited in the AWS
// config while rolecall runs (another account and role) and loaded again
// with `rolecall load` serves the new role, to the AWS CLI too, never the
// old role's kept credentials; a slot unloaded with `rolecall unload` is
// not loaded again by a client asking for it; `rolecall login --force`
// starts a new Identity Center session.
func TestEditedProfileReloadedAcrossTheCLI(t *testing.T) {
	r := newDayRig(t)
	var cfg, stsURL string // the rig's AWS config file and moto's STS
	for _, kv := range r.env {
		if v, ok := strings.CutPrefix(kv, "AWS_CONFIG_FILE="); ok {
			cfg = v
		}
		if v, ok := strings.CutPrefix(kv, "AWS_ENDPOINT_URL_STS="); ok {
			stsURL = v
		}
	}
	p := startServe(t, r.env, r.port)
	must := func(args ...string) string { t.Helper(); return r.verb(p, args...) }
	roleOf := func(slot string) string {
		t.Helper()
		var slots []control.SlotInfo
		if err := json.Unmarshal([]byte(must("list", "--json")), &slots); err != nil {
			t.Fatal(err)
		}
		for _, s := range slots {
			if s.Slot == slot {
				return s.RoleARN
			}
		}
		return ""
	}
	must("login", "--sso-session", "corp")
	must("load", "--profile", "dev", "--slot")
	if arn := roleOf("dev"); arn != "arn:aws:iam::111111111111:role/Admin" {
		t.Fatalf("dev serves %q before the edit", arn)
	}
	must("unload", "--profile", "dev")

	// A client still asking for it gets a 404 that says why.
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+r.port+"/slot/dev", nil)
	req.Header.Set("Authorization", r.token())
	if resp, err := dayClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		var body struct{ Message string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body.Message, "unloaded") {
			t.Errorf("GET /slot/dev after its unload: %d %q, want 404 saying it was unloaded", resp.StatusCode, body.Message)
		}
	}

	b, _ := os.ReadFile(cfg)
	edited := strings.Replace(strings.Replace(string(b), "sso_account_id = 111111111111", "sso_account_id = 222222222222", 1),
		"sso_role_name = Admin", "sso_role_name = ReadOnly", 1)
	if err := os.WriteFile(cfg, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	must("load", "--profile", "dev", "--slot")
	if arn := roleOf("dev"); arn != "arn:aws:iam::222222222222:role/ReadOnly" {
		t.Errorf("after the edit dev serves %q, want the edited role", arn)
	}
	if arn := awsCLICaller(t, must, stsURL, "dev"); !strings.Contains(arn, ":assumed-role/ReadOnly/") {
		t.Errorf("the AWS CLI is %s, want the edited role ReadOnly", arn)
	}

	// A new session: the portal's Logout ends the current one, and the
	// login that follows gives a token Identity Center accepts.
	must("login", "--sso-session", "corp", "--force")
	if n := r.fake.Calls("Logout"); n != 1 {
		t.Errorf("Logout calls = %d after login --force, want 1", n)
	}
	if out := must("roles"); !strings.Contains(out, "prod/ReadOnly") {
		t.Errorf("roles after a new session:\n%s", out)
	}
}
