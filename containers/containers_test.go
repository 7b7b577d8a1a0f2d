package containers

import (
	"errors"
	"testing"
)

func TestInterfaces(t *testing.T) {
	if got, err := Interfaces([]string{"lo"}); err != nil || len(got) != 1 || got[0] != "lo" {
		t.Errorf("Interfaces(lo) = %v, %v", got, err)
	}
	for _, bad := range []string{"nope-rolecall0", "../all", "a/b", "", "has space"} {
		if _, err := Interfaces([]string{bad}); !errors.Is(err, ErrNoInterface) {
			t.Errorf("Interfaces(%q) = %v, want ErrNoInterface", bad, err)
		}
	}
}
