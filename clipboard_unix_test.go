//go:build linux || freebsd || netbsd || openbsd || dragonfly || solaris

package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestClipboardCommand: the first installed program is used, wl-copy
// first in a Wayland session; none installed says so.
func TestClipboardCommand(t *testing.T) {
	tests := []struct {
		name      string
		wayland   bool
		installed []string
		want      []string
	}{
		{"x11 xclip", false, []string{"xclip", "xsel", "wl-copy"}, []string{"/bin/xclip", "-in", "-selection", "clipboard"}},
		{"x11 xsel", false, []string{"xsel", "wl-copy"}, []string{"/bin/xsel", "--input", "--clipboard"}},
		{"wayland", true, []string{"xclip", "wl-copy"}, []string{"/bin/wl-copy"}},
		{"wayland, only xclip", true, []string{"xclip"}, []string{"/bin/xclip", "-in", "-selection", "clipboard"}},
		{"x11, only wl-copy", false, []string{"wl-copy"}, nil},
		{"none", true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "WAYLAND_DISPLAY" && tt.wayland {
					return "wayland-0"
				}
				return ""
			}
			lookPath := func(name string) (string, error) {
				if slices.Contains(tt.installed, name) {
					return "/bin/" + name, nil
				}
				return "", errors.New("not found")
			}
			got, err := clipboardCommand(getenv, lookPath)
			if tt.want == nil {
				if !errors.Is(err, errNoClipboardTool) {
					t.Fatalf("got %q, %v; want errNoClipboardTool", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestWriteClipboardFindsToolInstalledLater: a clipboard program installed
// while rolecall runs is used at the next copy (nothing is decided at
// start), and the text reaches it on standard input.
func TestWriteClipboardFindsToolInstalledLater(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	t.Setenv("WAYLAND_DISPLAY", "")
	if !clipboardMissing() || !errors.Is(writeClipboard("x"), errNoClipboardTool) {
		t.Fatal("a clipboard program was found in an empty PATH")
	}
	out := filepath.Join(dir, "copied")
	script := "#!/bin/sh\nexec /bin/cat > " + out + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xsel"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if clipboardMissing() {
		t.Fatal("xsel installed after the first look is not found")
	}
	if err := writeClipboard("export AWS_CONTAINER_CREDENTIALS_FULL_URI=x\n"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "export AWS_CONTAINER_CREDENTIALS_FULL_URI=x\n" {
		t.Fatalf("the clipboard program got %q", b)
	}
}
