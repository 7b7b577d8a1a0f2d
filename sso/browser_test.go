package sso

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// TestBrowserLauncherNeverHoldsTheLogin: a launcher that does not return
// (xdg-open staying with the browser it started) holds neither the device
// login nor the PKCE login: a code approved at once ends the login at once.
func TestBrowserLauncherNeverHoldsTheLogin(t *testing.T) {
	onDesktop(t)
	for _, pkce := range []bool{false, true} {
		name := map[bool]string{false: "device", true: "pkce"}[pkce]
		t.Run(name, func(t *testing.T) {
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			h := newHarness(t, func(o *Options) {
				o.OpenBrowser = func(string) error { <-release; return nil }
			})
			prompts := make(chan Prompt, 1)
			done := make(chan error, 1)
			go func() {
				_, err := h.client.Login(context.Background(), h.session("corp"), LoginOptions{
					PKCE: pkce, OnPrompt: func(p Prompt) { prompts <- p },
				})
				done <- err
			}()
			p := <-prompts
			if pkce {
				if status, _, _ := browse(t, p.VerificationURIComplete, true); status != http.StatusOK {
					t.Fatalf("callback: %d", status)
				}
			} else if !h.fake.Approve(p.UserCode) {
				t.Fatalf("no pending code %s", p.UserCode)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second): // guards a hang; measures nothing
				t.Fatal("the login waits for the browser launcher to exit")
			}
		})
	}
}

// TestPKCECallbackOnlyFromItsUser: the callback listener answers only the
// connections AcceptCallback accepts: another user answering with the
// right state and an error does not end the login; a wrong or missing
// state never ends it, whatever it carries.
func TestPKCECallbackOnlyFromItsUser(t *testing.T) {
	onDesktop(t)
	var foreign atomic.Bool
	h := newHarness(t, func(o *Options) {
		o.AcceptCallback = func(local, remote net.Addr) error {
			if foreign.Load() {
				return errors.New("connection from a process of another user refused")
			}
			return nil
		}
	})
	var statuses []int
	_, err := h.pkceLogin(func(authURL string) {
		au, _ := url.Parse(authURL)
		q := au.Query()
		back := q.Get("redirect_uri")
		get := func(query string) int {
			s, _, _ := browse(t, back+"?"+query, false)
			return s
		}
		statuses = append(statuses,
			get("error=access_denied"),
			get("error=access_denied&state=forged"),
			get("code=stolen"),
		)
		foreign.Store(true)
		statuses = append(statuses, get("error=access_denied&state="+url.QueryEscape(q.Get("state"))))
		foreign.Store(false)
		if n := h.fake.Calls("CreateToken"); n != 0 {
			t.Errorf("CreateToken = %d before the user's browser came back", n)
		}
		browse(t, authURL, true) // the user's browser
	})
	if err != nil {
		t.Fatalf("a callback that was not the user's ended the login: %v", err)
	}
	want := []int{http.StatusBadRequest, http.StatusBadRequest, http.StatusBadRequest, http.StatusForbidden}
	for i := range want {
		if i >= len(statuses) || statuses[i] != want[i] {
			t.Errorf("callback answers = %v, want %v", statuses, want)
			break
		}
	}
}
