package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rolecall/rolecall/containers"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/nettest"
	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/server/control"
)

// grantEngine starts the engine in dir (so that a test can start it again
// on the same state).
func grantEngine(t *testing.T, dir string) *engine.Engine {
	t.Helper()
	e, _ := testEngineIn(t, dir, nil)
	return e
}

// grantLines runs `rolecall grant add` and returns the sh lines' values.
func grantLines(t *testing.T, args ...string) map[string]string {
	t.Helper()
	out := mustCLI(t, append([]string{"grant", "add"}, args...)...)
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^export (\w+)='([^']*)'$`).FindAllStringSubmatch(out, -1) {
		vars[m[1]] = m[2]
	}
	if m := regexp.MustCompile(`(?m)^unset (.*)$`).FindStringSubmatch(out); m != nil {
		for _, v := range strings.Fields(m[1]) {
			vars["unset "+v] = "1"
		}
	}
	return vars
}

// grantEnv is a clean client environment with a grant's lines only.
func grantEnv(t *testing.T, g map[string]string) []string {
	env := clientEnv(t, "", "")
	for _, k := range []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if v, ok := g[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// refusal is what the listener answers a GET with Authorization auth.
func refusal(t *testing.T, target, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	var e struct{ Message string }
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Message
}

// asNobody sends the same GET as another local user (nobody) with curl,
// the secret in a header read from stdin (never on a command line), and
// returns the status line and body.
func asNobody(t *testing.T, target, auth string) string {
	t.Helper()
	if os.Getuid() != 0 {
		skipOrFail(t, "the other-user checks need root to run a client as nobody: sudo go test -run "+t.Name()+" .")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		skipOrFail(t, "setpriv is missing: sudo apt-get install util-linux")
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-sS", "-i", "-H", "@-", target)
	if auth != "" {
		cmd.Stdin = strings.NewReader("Authorization: " + auth + "\n")
	} else {
		cmd.Stdin = strings.NewReader("")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl as nobody: %v\n%s", err, out)
	}
	return string(out)
}

// TestGrantWithClients: the Go SDK v2, boto3 and the AWS CLI get the
// grant's role with `rolecall grant add`'s lines; with the grant's secret
// the default slot, another slot and an unknown name are refused (also as
// another user), and no name is loaded for it; revoke refuses the next
// request; every hand-out is audited with the grant's name.
func TestGrantWithClients(t *testing.T) {
	desktoptest.SkipShort(t, "runs the AWS clients")
	dir := t.TempDir()
	e := grantEngine(t, dir)
	stsURL := moto(t)
	mustCLI(t, "load", "--profile", "dev")
	mustCLI(t, "load", "--profile", "prod", "--slot")
	g := grantLines(t, "my-agent", "--profile", "ops", "--shell", "sh")
	uri, secret := g["AWS_CONTAINER_CREDENTIALS_FULL_URI"], g["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
	if !strings.HasSuffix(uri, "/slot/ops") || len(secret) != 43 || g["unset AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == "" || g["unset AWS_PROFILE"] == "" {
		t.Fatalf("grant lines: %v", g)
	}

	for _, c := range externalClients {
		if !strings.HasPrefix(c.name, "Go SDK v2") && !strings.HasPrefix(c.name, "boto3") && !strings.HasPrefix(c.name, "AWS CLI") {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			env := grantEnv(t, g)
			if c.find == nil {
				wantAssumed(t, c.name, goCallerIdentity(t, env, stsURL), "ops")
				return
			}
			argv, missing := c.find(stsURL)
			if missing != "" {
				skipOrFail(t, missing)
			}
			arn, err := callClient(append(env, "STS_ENDPOINT="+stsURL), argv)
			if err != nil {
				t.Fatal(err)
			}
			wantAssumed(t, c.name, arn, "ops")
		})
	}

	base := strings.TrimSuffix(uri, "slot/ops")
	for _, target := range []string{base, base + "slot/prod", base + "slot/unknown-name"} {
		if code, msg := refusal(t, target, secret); code != 403 || !strings.Contains(msg, `grant "my-agent" reads only the role of slot "ops"`) {
			t.Errorf("GET %s with the grant: %d %s", target, code, msg)
		}
		if os.Getuid() == 0 {
			if out := asNobody(t, target, secret); !strings.HasPrefix(out, "HTTP/1.1 403") || !strings.Contains(out, "another user") {
				t.Errorf("GET %s with the grant as nobody:\n%s", target, out)
			}
		}
	}
	if os.Getuid() == 0 {
		if out := asNobody(t, uri, secret); !strings.HasPrefix(out, "HTTP/1.1 403") || !strings.Contains(out, "another user") {
			t.Errorf("the grant's own slot as nobody:\n%s", out)
		}
	}
	if _, ok := e.Lookup("unknown-name"); ok {
		t.Error("a grant's request loaded another name on demand")
	}

	mustCLI(t, "grant", "revoke", "my-agent")
	if code, msg := refusal(t, uri, secret); code != 403 || !strings.Contains(msg, "was revoked") || !strings.Contains(msg, "rolecall grant add my-agent --profile ops") {
		t.Errorf("after revoke: %d %s", code, msg)
	}
	if os.Getuid() == 0 {
		if out := asNobody(t, uri, secret); !strings.HasPrefix(out, "HTTP/1.1 403") {
			t.Errorf("revoked grant as nobody:\n%s", out)
		}
	}
	var list []control.GrantInfo
	json.Unmarshal([]byte(mustCLI(t, "grant", "list", "--json")), &list)
	if len(list) != 1 || list[0].State != "revoked" || list[0].Uses < 3 || list[0].LastUsed == "" {
		t.Errorf("grant list --json = %+v", list)
	}

	e.Close() // writes the audit log's pending lines
	entries, err := server.ReadAudit(filepath.Join(dir, "state", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var granted int64
	for _, a := range entries {
		if a.Grant == "my-agent" {
			granted += a.Count
			if a.Slot != "ops" || !strings.HasSuffix(a.RoleARN, "role/ops") {
				t.Errorf("audit entry of the grant: %+v", a)
			}
		}
	}
	if granted < 3 {
		t.Errorf("%d hand-outs audited with the grant's name, want one per client: %+v", granted, entries)
	}
}

// TestGrantTTLAndRestart: a grant of 3 s serves, then is refused as
// expired (a real 3 s wait); an unexpired grant and a revocation survive
// a restart.
func TestGrantTTLAndRestart(t *testing.T) {
	desktoptest.SkipShort(t, "starts rolecall twice")
	dir := t.TempDir()
	e := grantEngine(t, dir)
	stsURL := moto(t)
	short := grantLines(t, "short", "--profile", "dev", "--ttl", "3s", "--shell", "sh")
	long := grantLines(t, "long", "--profile", "dev", "--ttl", "1h", "--shell", "sh")
	gone := grantLines(t, "gone", "--profile", "dev", "--shell", "sh")
	mustCLI(t, "grant", "revoke", "gone")
	wantAssumed(t, "3s grant", goCallerIdentity(t, grantEnv(t, short), stsURL), "dev")

	var list []control.GrantInfo
	json.Unmarshal([]byte(mustCLI(t, "grant", "list", "--json")), &list)
	var end time.Time
	for _, g := range list {
		if g.Name == "short" {
			end, _ = time.Parse(time.RFC3339, g.Expires)
		}
	}
	if end.IsZero() {
		t.Fatalf("no expiry listed: %+v", list)
	}
	// The one real wait: the grant's 3 s (the listed end is in whole
	// seconds, the grant's own a fraction later).
	time.Sleep(time.Until(end.Add(time.Second)))
	uri := short["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
	if code, msg := refusal(t, uri, short["AWS_CONTAINER_AUTHORIZATION_TOKEN"]); code != 403 || !strings.Contains(msg, `grant "short" expired at`) {
		t.Errorf("after its 3 s: %d %s", code, msg)
	}

	e.Close()
	e = grantEngine(t, dir)
	// The new process listens on another free port.
	uri = onPort(t, uri, e.Env().FullURI)
	long["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = onPort(t, long["AWS_CONTAINER_CREDENTIALS_FULL_URI"], e.Env().FullURI)
	wantAssumed(t, "after a restart", goCallerIdentity(t, grantEnv(t, long), stsURL), "dev")
	if code, msg := refusal(t, uri, gone["AWS_CONTAINER_AUTHORIZATION_TOKEN"]); code != 403 || !strings.Contains(msg, "was revoked") {
		t.Errorf("revoked grant after a restart: %d %s", code, msg)
	}
}

// onPort is u on the host and port of base.
func onPort(t *testing.T, u, base string) string {
	t.Helper()
	a, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	a.Host = b.Host
	return a.String()
}

// TestGrantContainer: a network namespace behind a veth pair stands in
// for a container; `rolecall containers on` sets the host up; inside, the
// Go SDK and botocore with only AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
// get the grant's role from http://169.254.170.2 and call moto's STS as
// it; a wrong or revoked ID and the user's routes are refused from inside
// (also as another user); `containers off` leaves nothing behind.
func TestGrantContainer(t *testing.T) {
	if os.Getenv("ROLECALL_GRANT_CLIENT") == "1" {
		grantContainerClient(t)
		return
	}
	ns := nettest.New(t, 79)
	if _, err := exec.LookPath("iptables"); err != nil {
		skipOrFail(t, "iptables is missing: sudo apt-get install iptables")
	}
	// rolecall's own set-up is machine-wide: another run of this test
	// (another checkout on this machine) waits for this one to end.
	nettest.HostLock(t, "rolecall-containers-test")
	mark := "--comment " + containers.System.Comment + " "
	before, _ := exec.Command("iptables-save").Output()
	if strings.Contains(string(before), mark) {
		t.Fatal("a container set-up of rolecall's is in force: `sudo rolecall containers off` first")
	}
	e := grantEngine(t, t.TempDir())
	stsURL := moto(t)
	// moto listens on the host's loopback; the namespace reaches it
	// through a proxy on the host end of the veth.
	target, _ := url.Parse(stsURL)
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	l, err := net.Listen("tcp", ns.HostIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	proxy.Listener = l
	proxy.Start()
	t.Cleanup(proxy.Close)
	nsSTS := proxy.URL

	port := portOf(e.Env().FullURI)
	t.Cleanup(func() { containers.System.Off() })
	if out := mustCLI(t, "containers", "on", "--interface", ns.HostIf, "--port", port); !strings.Contains(out, ns.HostIf) {
		t.Errorf("containers on: %s", out)
	}
	g := grantLines(t, "web", "--profile", "ops", "--container", "--shell", "sh")
	rel := g["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
	if !strings.HasPrefix(rel, "/v2/credentials/") || len(g) != 1 {
		t.Fatalf("grant add --container: %v", g)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=" + rel, "STS_ENDPOINT=" + nsSTS}

	goClient := ns.Command(os.Args[0], "-test.run=^TestGrantContainer$", "-test.v")
	goClient.Env = append(env, "ROLECALL_GRANT_CLIENT=1")
	out, err := goClient.CombinedOutput()
	if err != nil {
		t.Fatalf("Go SDK in the namespace: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`ARN (\S+)`).FindSubmatch(out); m == nil {
		t.Errorf("Go SDK in the namespace:\n%s", out)
	} else {
		wantAssumed(t, "Go SDK in a container", string(m[1]), "ops")
	}
	if exec.Command(debianPython, "-c", "import boto3").Run() != nil {
		skipOrFail(t, "Debian's boto3 is missing: sudo apt-get install python3-boto3")
	} else {
		py := ns.Command(debianPython, "-c", boto3Script)
		py.Env = env
		arn, err := callClient(env, py.Args)
		if err != nil {
			t.Fatalf("botocore in the namespace: %v", err)
		}
		wantAssumed(t, "botocore in a container", arn, "ops")
	}

	// Refusals from inside, as root and as nobody there.
	inside := func(user, path, auth string) string {
		t.Helper()
		// The request, secrets and all, goes in on stdin: never on a
		// command line.
		script := `exec 3<>/dev/tcp/169.254.170.2/80; cat >&3; timeout 10 cat <&3`
		req := "GET " + path + " HTTP/1.0\r\nHost: 169.254.170.2\r\n"
		if auth != "" {
			req += "Authorization: " + auth + "\r\n"
		}
		args := []string{"bash", "-c", script}
		if user == "nobody" {
			args = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, args...)
		}
		cmd := ns.Command(args[0], args[1:]...)
		cmd.Stdin = strings.NewReader(req + "\r\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GET %s from the namespace: %v\n%s", path, err, out)
		}
		return string(out)
	}
	token := e.Env().Token
	for _, user := range []string{"root", "nobody"} {
		for _, tc := range []struct{ path, auth, want string }{
			{"/v2/credentials/" + strings.Repeat("A", 43), "", "no grant has this"},
			{"/", token, "reach only GET /v2/credentials/"},
			{"/slot/ops", token, "reach only GET /v2/credentials/"},
			{"/slot/ops", strings.TrimPrefix(rel, "/v2/credentials/"), "reach only GET /v2/credentials/"},
			{"/healthz", "", "reach only GET /v2/credentials/"},
		} {
			if out := inside(user, tc.path, tc.auth); !strings.HasPrefix(out, "HTTP/1.0 403") || !strings.Contains(out, tc.want) {
				t.Errorf("GET %s from the namespace as %s:\n%s", tc.path, user, out)
			}
		}
	}
	mustCLI(t, "grant", "revoke", "web")
	for _, user := range []string{"root", "nobody"} {
		if out := inside(user, rel, ""); !strings.HasPrefix(out, "HTTP/1.0 403") || !strings.Contains(out, "was revoked") {
			t.Errorf("revoked ID from the namespace as %s:\n%s", user, out)
		}
	}

	if out := mustCLI(t, "containers", "off"); !strings.Contains(out, "removed") {
		t.Errorf("containers off: %s", out)
	}
	after, _ := exec.Command("iptables-save").Output()
	for _, line := range strings.Split(string(after), "\n") {
		// (The containers package's test may hold rules of its own, on
		// its own veth, at the same time.)
		if strings.Contains(line, mark) || strings.Contains(line, ns.HostIf) {
			t.Errorf("rule left after containers off: %s", line)
		}
	}
	if _, err := os.Stat(containers.System.StatePath); !os.IsNotExist(err) {
		t.Errorf("%s left after containers off: %v", containers.System.StatePath, err)
	}
	if v, _ := os.ReadFile("/proc/sys/net/ipv4/conf/" + ns.HostIf + "/route_localnet"); strings.TrimSpace(string(v)) != "0" {
		t.Errorf("route_localnet of %s = %s after containers off", ns.HostIf, v)
	}
	if addrs, _ := exec.Command("ip", "-o", "addr").Output(); strings.Contains(string(addrs), containers.Address) {
		t.Errorf("address %s left on the host:\n%s", containers.Address, addrs)
	}
}

// grantContainerClient runs inside the namespace: the Go SDK's default
// chain with only the relative URI, then STS as that role.
func grantContainerClient(t *testing.T) {
	arn := goCallerIdentity(t, os.Environ(), os.Getenv("STS_ENDPOINT"))
	t.Log("ARN " + arn)
}

// TestGrantVerbs: the lines `grant add` prints in each form, its usage
// errors, and `grant list`.
func TestGrantVerbs(t *testing.T) {
	testEngine(t, nil)
	fish := mustCLI(t, "grant", "add", "f", "--profile", "dev", "--shell", "fish")
	if !strings.Contains(fish, "set -e AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;") || !regexp.MustCompile(`set -gx AWS_CONTAINER_AUTHORIZATION_TOKEN '[\w-]{43}';`).MatchString(fish) {
		t.Errorf("fish:\n%s", fish)
	}
	ps := mustCLI(t, "grant", "add", "--profile", "Acme Corp/Admin", "p", "--shell", "powershell")
	if !strings.Contains(ps, "$Env:AWS_CONTAINER_CREDENTIALS_FULL_URI = 'http://127.0.0.1:") || !strings.Contains(ps, "/slot/Acme%20Corp%2FAdmin'") {
		t.Errorf("powershell:\n%s", ps)
	}
	docker := mustCLI(t, "grant", "add", "d", "--profile", "dev", "--format", "docker")
	if !regexp.MustCompile(`^AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/[\w-]{43}\n$`).MatchString(docker) {
		t.Errorf("--format docker:\n%s", docker)
	}
	c := mustCLI(t, "grant", "add", "c", "--profile", "dev", "--container")
	for _, want := range []string{"export AWS_CONTAINER_CREDENTIALS_RELATIVE_URI='/v2/credentials/", "docker run -e AWS_CONTAINER_CREDENTIALS_RELATIVE_URI IMAGE",
		`"containerEnv": {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "${localEnv:AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}"}`, "sudo rolecall containers on"} {
		if !strings.Contains(c, want) {
			t.Errorf("--container lacks %q:\n%s", want, c)
		}
	}
	for _, tc := range []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"grant"}, 2, "Usage: rolecall grant add NAME"},
		{[]string{"grant", "give"}, 2, "use add, list or revoke"},
		{[]string{"grant", "add", "--profile", "dev"}, 2, "name the consumer"},
		{[]string{"grant", "add", "x"}, 2, "--profile P"},
		{[]string{"grant", "add", "x", "--profile", "dev", "--format", "json"}, 2, "the one format is docker"},
		{[]string{"grant", "add", "f", "--profile", "dev"}, 1, "rolecall grant revoke f"},
		{[]string{"grant", "add", "x", "--profile", "dev", "--ttl", "1ms"}, 1, "--ttl 1ms"},
		{[]string{"grant", "revoke", "nobody-has-this"}, 1, "no active grant named"},
	} {
		_, errOut, rc := cliRun(t, tc.args...)
		if rc != tc.rc || !strings.Contains(errOut, tc.want) {
			t.Errorf("rolecall %s: exit %d, %q; want %d with %q", strings.Join(tc.args, " "), rc, errOut, tc.rc, tc.want)
		}
	}
	list := mustCLI(t, "grant", "list")
	if !strings.Contains(list, "NAME") || !strings.Contains(list, "Acme Corp/Admin") || strings.Count(list, "active") != 4 {
		t.Errorf("grant list:\n%s", list)
	}
}
