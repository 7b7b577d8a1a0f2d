package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/internal/fakeidc"
	"github.com/rolecall/rolecall/keyring"
)

// The laptop's day beside other tools and an Identity Center that changes
// its mind: `aws sso login` while rolecall runs, a client registration
// forgotten and a session revoked.

// home is the rig's HOME (the last one in its environment wins).
func (r *dayRig) home() string {
	for _, kv := range slices.Backward(r.env) {
		if h, ok := strings.CutPrefix(kv, "HOME="); ok {
			return h
		}
	}
	r.t.Fatal("no HOME in the rig's environment")
	return ""
}

// awsSSOLogin does what `aws sso login --sso-session corp` does: its own
// client registration and device flow against the fake (approved as the
// user would), and the token written to the AWS CLI's cache.
func awsSSOLogin(t *testing.T, fake *fakeidc.Server, home string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := ssooidc.New(ssooidc.Options{Region: "us-east-1", BaseEndpoint: aws.String(fake.URL), Credentials: aws.AnonymousCredentials{}})
	reg, err := c.RegisterClient(ctx, &ssooidc.RegisterClientInput{ClientName: aws.String("botocore-client-corp"), ClientType: aws.String("public")})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := c.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String("https://corp.awsapps.com/start")})
	if err != nil {
		t.Fatal(err)
	}
	if !fake.Approve(aws.ToString(dev.UserCode)) {
		t.Fatalf("user code %s not pending", aws.ToString(dev.UserCode))
	}
	tok, err := c.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
		GrantType: aws.String("urn:ietf:params:oauth:grant-type:device_code"), DeviceCode: dev.DeviceCode})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte("corp"))
	dir := filepath.Join(home, ".aws", "sso", "cache")
	os.MkdirAll(dir, 0o700)
	b, _ := json.Marshal(map[string]string{
		"startUrl": "https://corp.awsapps.com/start", "region": "us-east-1",
		"accessToken":  aws.ToString(tok.AccessToken),
		"expiresAt":    time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second).UTC().Format(time.RFC3339),
		"clientId":     aws.ToString(reg.ClientId),
		"clientSecret": aws.ToString(reg.ClientSecret),
		"refreshToken": aws.ToString(tok.RefreshToken),
	})
	if err := os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDayAWSSSOLoginBeside: rolecall runs with no stored token; the user
// signs in with the AWS CLI instead. The next `rolecall load` works
// without a login of rolecall's own.
func TestDayAWSSSOLoginBeside(t *testing.T) {
	r := newDayRig(t)
	p := startServe(t, r.env, r.port)
	if out, err := boundedVerb(p, "load", "--profile", "dev"); err == nil || !strings.Contains(out, "rolecall login") {
		t.Fatalf("load before any login: %v %q", err, out)
	}
	awsSSOLogin(t, r.fake, r.home())
	calls := r.fake.AllCalls()
	start := time.Now()
	r.verb(p, "load", "--profile", "dev")
	if _, err := r.waitServing(p, []string{"/"}, 20*time.Second); err != nil {
		t.Fatalf("after aws sso login: %v\n%s", err, p.logs.String())
	}
	t.Logf("aws sso login beside: load to serving %v, %d calls to the fake", time.Since(start).Round(time.Millisecond), r.fake.AllCalls()-calls)
	if n := r.fake.Calls("StartDeviceAuthorization"); n != 1 {
		t.Errorf("device authorizations = %d, want 1 (the AWS CLI's)", n)
	}
	if n := r.browserOpens(); n != 0 {
		t.Errorf("rolecall opened the browser %d times", n)
	}
	if out := r.verb(p, "current"); out != "dev/Admin\n" && out != "dev\n" {
		t.Errorf("current = %q", out)
	}
}

// TestDayForgottenClientThenRevoked: overnight the stored token comes
// close to its end; Identity Center meanwhile forgot rolecall's client
// registration and revoked the session. At the next start (with the tray)
// the renewal fails, rolecall registers again once and asks for one
// login, not a burst; the default slot and the three pins serve after it.
func TestDayForgottenClientThenRevoked(t *testing.T) {
	if os.Getenv("ROLECALL_DAY_CHILD") == "near-expiry" {
		nearExpiry(t)
		return
	}
	r := newDayRig(t)
	r.firstRun()

	// The night: less than renewBefore left on the stored token. (In a
	// child process: go-keyring's bus connection is one per process, and
	// an earlier test's may point at another bus.)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDayForgottenClientThenRevoked$", "-test.v")
	child.Env = append(append(os.Environ(), r.s.Env...), "ROLECALL_DAY_CHILD=near-expiry")
	if out, err := child.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("near expiry: %v\n%s", err, out)
	}
	r.fake.ForgetClients()
	r.fake.RevokeAll()

	r.s.StartWatcher(t)
	notes := r.s.StartNotifications(t)
	reg, dev, opens := r.fake.Calls("RegisterClient"), r.fake.Calls("StartDeviceAuthorization"), r.browserOpens()
	calls := r.fake.AllCalls()
	start := time.Now()
	p := r.startTray()
	logs := p.logs
	if _, err := r.waitServing(p, pinnedPaths, 60*time.Second); err != nil {
		t.Fatalf("after the login: %v\nlogs:\n%s", err, logs.String())
	}
	took := time.Since(start)
	// Nothing more is on its way: no login waits for approval.
	if codes := r.fake.PendingCodes(); len(codes) != 0 {
		t.Errorf("logins still pending: %v", codes)
	}
	var shown []string
	for _, n := range notes.All() {
		shown = append(shown, fmt.Sprintf("%d/%d %s: %s", n.ID, n.Replaces, n.Summary, n.Body))
	}
	t.Logf("forgotten client + revoked session: serving %v after the start; %d calls to the fake (RegisterClient %d, StartDeviceAuthorization %d, CreateToken %d in all); browser opened %d; notifications %q",
		took.Round(time.Millisecond), r.fake.AllCalls()-calls, r.fake.Calls("RegisterClient")-reg,
		r.fake.Calls("StartDeviceAuthorization")-dev, r.fake.Calls("CreateToken"), r.browserOpens()-opens, shown)
	if !strings.Contains(logs.String(), "registering again") {
		t.Errorf("the renewal did not find the registration forgotten:\n%s", logs.String())
	}
	if n := r.fake.Calls("StartDeviceAuthorization") - dev; n != 1 {
		t.Errorf("device authorizations = %d, want 1", n)
	}
	if n := r.browserOpens() - opens; n != 1 {
		t.Errorf("browser opened %d times, want 1", n)
	}
	if n := r.fake.Calls("RegisterClient") - reg; n != 1 {
		t.Errorf("registrations = %d, want 1 (registered again once)", n)
	}
	// One login, so one login note, which no "session ended" note
	// replaces while the login waits or once it is done.
	logins := 0
	for _, n := range notes.All() {
		switch {
		case n.Summary == creds.Say(creds.NoteCode, "corp"):
			logins++
		case logins > 0 && n.Summary == creds.Say(creds.NoteEnded, "corp"):
			t.Errorf("%q after the login started: %q", n.Summary, shown)
		}
	}
	if logins != 1 {
		t.Errorf("login notes = %d, want 1: %q", logins, shown)
	}
}

// nearExpiry leaves less than renewBefore on corp's stored token, as a
// night does.
func nearExpiry(t *testing.T) {
	kr := keyring.New("rolecall", nil)
	defer kr.Close()
	raw, err := kr.Get("sso-token:corp")
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		t.Fatal(err)
	}
	tok["expiresAt"] = time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)
	b, _ := json.Marshal(tok)
	if err := kr.Set("sso-token:corp", string(b)); err != nil {
		t.Fatal(err)
	}
}
