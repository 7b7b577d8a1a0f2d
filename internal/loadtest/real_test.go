//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rolecall/rolecall/internal/desktoptest"
)

// TestUserState builds the state `make bench` measures rolecall in (the
// first run signs in to both sessions through the fake browser, loads the
// default slot) and starts the measured run in it: every slot serves
// credentials. It broke once unnoticed when sign-in URLs began to reach
// the browser through rolecall's hand-off page.
func TestUserState(t *testing.T) {
	desktoptest.SkipShort(t, "the load test's user state")
	bin := filepath.Join(t.TempDir(), "rolecall")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/rolecall/rolecall").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	u, err := newUserState(t, bin)
	if err != nil {
		t.Fatal(err)
	}
	p, err := u.start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	req, _ := http.NewRequest("GET", p.url, nil)
	req.Header.Set("Authorization", u.token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var c struct{ AccessKeyId string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &c) != nil || c.AccessKeyId != "ASIAIOSFODNN7EXAMPLE" {
		t.Fatalf("GET / in the user state: %d %.200s", resp.StatusCode, b)
	}
}
