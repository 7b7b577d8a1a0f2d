package sso

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

// edgeConfig has the shapes of AWS config files the one-pass reader must
// read as the SDK does.
const edgeConfig = `# comment
; another comment
[default]
region = us-east-1
sso_session = corp
sso_account_id = 111111111111
sso_role_name = FromPlainDefault

[profile default]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin ; the SDK cuts this comment

[sso-session corp] # a comment on the header
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
SSO_Registration_Scopes = sso:account:access

[profile	tabbed]
sso_session = corp
sso_account_id = "222222222222"
sso_role_name = 'Quoted'
s3 =
  max_concurrent_requests = 20
  sso_role_name = NestedIsNotTheRole

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 333333333333
sso_role_name = ReadOnly

[profile chain]
role_arn = arn:aws:iam::444444444444:role/ops
source_profile = legacy
role_session_name = me
duration_seconds = 900
external_id = ext

[profile chain2]
role_arn = arn:aws:iam::555555555555:role/deeper
source_profile = chain

[profile loop-a]
role_arn = arn:aws:iam::666666666666:role/a
source_profile = loop-b

[profile loop-b]
role_arn = arn:aws:iam::666666666666:role/b
source_profile = loop-a

[profile nosource]
role_arn = arn:aws:iam::777777777777:role/x
credential_source = Environment

[profile proc]
credential_process = /bin/echo

[profile keys]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

[profile orphan]
sso_session = gone
sso_account_id = 888888888888
sso_role_name = Admin

[profile bare]
region = eu-west-1

[profile repeated]
sso_session = corp

[profile repeated]
sso_account_id = 999999999999
sso_role_name = Twice

[notaprofile]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Ignored
`

// TestConfigReadAsTheSDKDoes compares the one-pass reader with the SDK's
// loader on every profile: the same profiles are servable, with the same
// session, account, role and chain.
func TestConfigReadAsTheSDKDoes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	os.WriteFile(path, []byte(edgeConfig), 0o600)
	ctx := context.Background()
	cfg, err := LoadAWSConfig(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"default", "tabbed", "legacy", "chain", "chain2", "loop-a", "nosource", "proc", "keys", "orphan", "bare", "repeated", "notaprofile", "missing"}
	for _, name := range names {
		raw, rawOK := cfg.Profiles[name]
		sdk, err := cfg.resolve(ctx, name)
		if rawOK != (err == nil) {
			t.Errorf("%s: one pass says servable=%v (%q), the SDK says %v", name, rawOK, cfg.Skipped[name], err)
			continue
		}
		if !rawOK {
			continue
		}
		if *raw != *sdk.Profile {
			t.Errorf("%s: one pass %+v, SDK %+v", name, *raw, *sdk.Profile)
		}
	}
	if p := cfg.Profiles["default"]; p == nil || p.RoleName != "Admin" {
		t.Errorf("default = %+v, want [profile default] (Admin) over [default]", p)
	}
	if p := cfg.Profiles["tabbed"]; p == nil || p.AccountID != "222222222222" || p.RoleName != "Quoted" {
		t.Errorf("tabbed = %+v", p)
	}
	if s := cfg.Sessions["corp"]; s == nil || len(s.Scopes) != 1 || s.Scopes[0] != "sso:account:access" {
		t.Errorf("corp session = %+v", s)
	}
	for name, want := range map[string]string{"proc": skipProcess, "keys": skipStatic, "bare": skipNoSSO, "nosource": "credential_source", "orphan": "has no [sso-session gone] section", "loop-a": "source profile"} {
		if !strings.Contains(cfg.Skipped[name], want) {
			t.Errorf("%s skipped for %q, want %q", name, cfg.Skipped[name], want)
		}
	}
	if _, ok := cfg.Profiles["notaprofile"]; ok {
		t.Error("a section without the profile prefix was read as a profile")
	}
	if _, done, ok := memFile("[profile x]\n"); ok {
		done()
	} else if runtime.GOOS == "linux" {
		t.Error("no in-memory file on Linux: the SDK reads the whole config for every profile")
	}
	chain, err := cfg.resolve(ctx, "chain2")
	if err != nil || chain.src == nil || chain.src.Name != "chain" || chain.src.src == nil || chain.src.src.Name != "legacy" {
		t.Fatalf("chain2 resolved to %+v, %v", chain, err)
	}
}

// TestConfigReadOncePerChange: the file is parsed again when it changes
// (even to the same size), and not otherwise.
func TestConfigReadOncePerChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	now := time.Now()
	write := func(role string, mtime time.Time) {
		body := "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n" +
			"[profile dev]\nsso_session = corp\nsso_account_id = 111111111111\nsso_role_name = " + role + "\n"
		os.WriteFile(path, []byte(body), 0o600)
		os.Chtimes(path, mtime, mtime)
	}
	write("AAAA", now.Add(-time.Hour))
	c := NewClient(Options{ConfigPath: path})
	ctx := context.Background()
	first, err := c.config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.config(ctx); again != first {
		t.Error("the unchanged file was parsed again")
	}
	write("BBBB", now.Add(-30*time.Minute)) // same size, another time
	second, _ := c.config(ctx)
	if second == first || second.Profiles["dev"].RoleName != "BBBB" {
		t.Errorf("a change of the file was not seen: %+v", second.Profiles["dev"])
	}
	// An editor's save: a new file renamed over the old one, same size
	// and time.
	tmp := filepath.Join(dir, "config.new")
	os.WriteFile(tmp, []byte(strings.Replace(mustRead(t, path), "BBBB", "CCCC", 1)), 0o600)
	st, _ := os.Stat(path)
	os.Chtimes(tmp, st.ModTime(), st.ModTime())
	os.Rename(tmp, path)
	if third, _ := c.config(ctx); third.Profiles["dev"].RoleName != "CCCC" {
		t.Errorf("a rename over the file was not seen: %+v", third.Profiles["dev"])
	}
	// Written just now: another write within the same timestamp tick
	// (same size, same time) must still be seen, so a fresh stamp is not
	// trusted.
	write("DDDD", now)
	c.config(ctx)
	write("EEEE", now)
	if got, _ := c.config(ctx); got.Profiles["dev"].RoleName != "EEEE" {
		t.Errorf("a second write in the same tick was not seen: %+v", got.Profiles["dev"])
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// generatedConfig writes n profiles as aws-sso-util populate or Granted
// would (one per account and role), every 50th a role chain on the one
// before it.
func generatedConfig(tb testing.TB, path string, n int) {
	tb.Helper()
	var b strings.Builder
	b.WriteString("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n\n")
	for i := range n {
		if i%50 == 49 {
			fmt.Fprintf(&b, "[profile p%05d]\nrole_arn = arn:aws:iam::%012d:role/Chained\nsource_profile = p%05d\nregion = eu-west-1\n\n", i, 100000000000+i, i-1)
			continue
		}
		fmt.Fprintf(&b, "[profile p%05d]\nsso_session = corp\nsso_account_id = %012d\nsso_role_name = Role%d\nregion = eu-west-1\noutput = json\n\n", i, 100000000000+i/3, i%3)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestGeneratedConfigAgreesWithSDK(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	generatedConfig(t, path, 200)
	cfg, err := LoadAWSConfig(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Profiles) != 200 || len(cfg.Skipped) != 0 {
		t.Fatalf("%d profiles, skipped %v", len(cfg.Profiles), cfg.Skipped)
	}
	for _, name := range []string{"p00000", "p00049", "p00199"} {
		sc, err := config.LoadSharedConfigProfile(context.Background(), name, func(o *config.LoadSharedConfigOptions) {
			o.ConfigFiles, o.CredentialsFiles = []string{path}, []string{}
		})
		if err != nil {
			t.Fatal(err)
		}
		p := cfg.Profiles[name]
		if p.RoleARN != sc.RoleARN || p.AccountID != sc.SSOAccountID || p.RoleName != sc.SSORoleName {
			t.Errorf("%s: %+v, SDK %+v", name, p, sc)
		}
	}
	runtime.KeepAlive(cfg)
}

// TestSection: doctor's view of one section, read by the same reader as
// the profiles: [default] and [profile default] apart, repeated headers
// added up, comments cut, keys case-insensitive, no file an error.
func TestSection(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	text := "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE ; mine\n" +
		"[profile dev]\ncredential_process = rolecall credential-process --profile dev\n" +
		"[profile dev]\nWeb_Identity_Token_File = /tmp/token\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		header string
		want   map[string]string
	}{
		{"default", map[string]string{"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE"}},
		{"profile default", nil}, // [default] is not [profile default]
		{"profile dev", map[string]string{"credential_process": "rolecall credential-process --profile dev", "web_identity_token_file": "/tmp/token"}},
		{"profile nope", nil},
	} {
		got, err := Section(path, c.header)
		if err != nil {
			t.Fatalf("[%s]: %v", c.header, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("[%s] = %v, want %v", c.header, got, c.want)
		}
	}
	if _, err := Section(filepath.Join(dir, "missing"), "default"); err == nil {
		t.Error("a missing file read without an error")
	}
}
