package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/engine"
	"github.com/rolecall/rolecall/internal/testpki"
	"github.com/rolecall/rolecall/keyring"
)

// noBus is an OS keyring that is not there: no D-Bus session bus, as
// over SSH or on a headless server.
type noBus struct{}

var errNoBus = errors.New(`exec: "dbus-launch": executable file not found in $PATH`)

func (noBus) Get(string, string) (string, error) { return "", errNoBus }
func (noBus) Set(string, string, string) error   { return errNoBus }
func (noBus) Delete(string, string) error        { return errNoBus }

// TestTLSSaveWithoutKeyring: with no keyring the pair would be forgotten
// at the next start, so `tls save` does not say "saved": it says why and
// what to do, and exits 1.
func TestTLSSaveWithoutKeyring(t *testing.T) {
	if _, err := quietEngine(t, 0, filepath.Join(t.TempDir(), "control.sock"), func(c *engine.Config) {
		c.Keyring = keyring.NewWith("rolecall-test", noBus{}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := testpki.WritePair(t, t.TempDir(), "127.0.0.1")
	out, errOut, rc := cliRun(t, "tls", "save", "--cert", certFile, "--key", keyFile)
	if want := "rolecall: TLS pair " + creds.Say(creds.TLSNotSaved); rc != 1 || strings.Contains(out, "saved") || firstLine(errOut) != want {
		t.Errorf("exit %d, stdout %q\ngot  %s\nwant %s", rc, out, firstLine(errOut), want)
	}
}
