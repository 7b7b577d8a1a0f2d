package containers

import (
	"errors"
	"net"
	"testing"
)

// TestInterfaces: names of this machine's interfaces are taken (the
// loopback one, whatever the system calls it), others refused.
func TestInterfaces(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		t.Skipf("no network interfaces to name here: %v", err)
	}
	name := ifs[0].Name
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			name = i.Name
		}
	}
	if got, err := Interfaces([]string{name}); err != nil || len(got) != 1 || got[0] != name {
		t.Errorf("Interfaces(%s) = %v, %v", name, got, err)
	}
	for _, bad := range []string{"nope-rolecall0", "../all", "a/b", "", "has space"} {
		if _, err := Interfaces([]string{bad}); !errors.Is(err, ErrNoInterface) {
			t.Errorf("Interfaces(%q) = %v, want ErrNoInterface", bad, err)
		}
	}
}
