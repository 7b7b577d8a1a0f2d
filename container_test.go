package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	gokeyring "github.com/zalando/go-keyring"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/internal/desktoptest"
	"github.com/rolecall/rolecall/internal/testpki"
	"github.com/rolecall/rolecall/keyring"
	"github.com/rolecall/rolecall/settings"
)

// TestContainerRecipe checks the README's recipe for containers: rolecall
// bound to a bridge address with TLS, and a client in another network
// namespace (what a container is) resolving credentials with the Go SDK
// over https, trusting the certificate through SSL_CERT_FILE (the Go
// SDK's container provider does not read AWS_CA_BUNDLE).
func TestContainerRecipe(t *testing.T) {
	if os.Getenv("ROLECALL_CONTAINER_CLIENT") == "1" {
		containerClient(t)
		return
	}
	desktoptest.LinuxOnly(t, "the container recipe test makes a network namespace")
	desktoptest.SkipShort(t, "makes a network namespace")
	if os.Getuid() != 0 {
		skipOrFail(t, "the container recipe test needs root to make a network namespace: sudo go test -run TestContainerRecipe .")
	}
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		skipOrFail(t, "ip is missing: sudo apt-get install iproute2")
	}
	stsURL := moto(t)
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	ns, host, peer := "rolecall-"+id, "rch"+id, "rcc"+id
	const hostIP, peerIP = "10.231.77.1", "10.231.77.2"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command(ipBin, "netns", "del", ns).Run(); exec.Command(ipBin, "link", "del", host).Run() })
	run("link", "add", host, "type", "veth", "peer", "name", peer)
	run("link", "set", peer, "netns", ns)
	run("addr", "add", hostIP+"/24", "dev", host)
	run("link", "set", host, "up")
	run("netns", "exec", ns, "ip", "addr", "add", peerIP+"/24", "dev", peer)
	run("netns", "exec", ns, "ip", "link", "set", peer, "up")
	run("netns", "exec", ns, "ip", "link", "set", "lo", "up")

	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, hostIP)
	gokeyring.MockInit()
	st := settings.Defaults()
	st.Bind, st.Port = hostIP, 0
	cfg := engine.Config{
		Settings: st, Socket: filepath.Join(dir, "run", "control.sock"), StateDir: filepath.Join(dir, "state"),
		Fetcher: stsFetcher(stsURL), Resolve: resolveByName,
		Keyring: keyring.New("rolecall-test", nil), Log: newLogger(os.Stderr, false),
	}
	// Without TLS a bridge address is refused.
	if _, err := engine.Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "needs TLS") {
		t.Fatalf("plain HTTP on %s: %v", hostIP, err)
	}
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	cfg.Keyring = keyring.New("rolecall-test", nil) // the failed start closed the first
	e, err := engine.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Load("dev", false); err != nil {
		t.Fatal(err)
	}
	slot, _ := e.Lookup(creds.DefaultSlot)
	tok, _ := os.ReadFile(e.Env().TokenFile)

	cmd := exec.Command(ipBin, "netns", "exec", ns, os.Args[0], "-test.run=^TestContainerRecipe$", "-test.v")
	uri := "https://" + hostIP + ":" + portOf(e.Env().FullURI) + "/"
	cmd.Env = append(tokenEnv(t, uri, string(tok)),
		"ROLECALL_CONTAINER_CLIENT=1", "SSL_CERT_FILE="+certFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client in the namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "KEY "+slot.Creds.AccessKeyID) {
		t.Errorf("client got other credentials than the slot's %s:\n%s", slot.Creds.MaskedKeyID(), out)
	}

}

// containerClient runs inside the namespace: the Go SDK's default chain.
func containerClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("KEY " + c.AccessKeyID)
}

// tokenEnv is a client environment with the token itself, as a container
// gets it (`-e AWS_CONTAINER_AUTHORIZATION_TOKEN`), and no token file.
func tokenEnv(t *testing.T, uri, tok string) []string {
	var env []string
	for _, kv := range clientEnv(t, uri, "") {
		if !strings.HasPrefix(kv, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN="+tok)
}

func portOf(url string) string {
	u := strings.TrimSuffix(url, "/")
	return u[strings.LastIndex(u, ":")+1:]
}
