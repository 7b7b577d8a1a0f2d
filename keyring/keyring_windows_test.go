package keyring

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	gokeyring "github.com/zalando/go-keyring"
)

// TestCredentialManager uses the real Windows Credential Manager (wincred;
// under wine, wine's, which takes larger blobs than Windows' 2560 bytes, so
// the limit itself is not seen there): a 9000-byte value goes through
// Keyring in chunks and back, is overwritten by a small one (the chunks
// go) and deleted.
func TestCredentialManager(t *testing.T) {
	service := "rolecall-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	big := strings.Repeat("0123456789abcdef", 9000/16)
	k := New(service, nil)
	t.Cleanup(func() { k.Delete("token") })
	if err := k.Probe(); err != nil {
		t.Fatalf("Credential Manager: %v", err)
	}
	if err := k.Set("token", big); err != nil {
		t.Fatal(err)
	}
	if raw, err := gokeyring.Get(service, "token"); err != nil || !strings.HasPrefix(raw, chunkPrefix) {
		t.Errorf("the entry itself holds %d bytes, %v: not chunked", len(raw), err)
	}
	if got, err := New(service, nil).Get("token"); err != nil || got != big {
		t.Fatalf("read back %d bytes, %v; want %d", len(got), err, len(big))
	}
	if err := k.Set("token", "small"); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Get("token"); err != nil || got != "small" {
		t.Errorf("after overwrite: %q, %v", got, err)
	}
	if _, err := gokeyring.Get(service, chunkKey("token", 1)); !errors.Is(err, gokeyring.ErrNotFound) {
		t.Errorf("chunk left after a small overwrite: %v", err)
	}
	if err := k.Delete("token"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("token"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
