package remote

import (
	"bytes"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		options []string
		dest    string
		command []string
		tty     int
		notty   bool
		nostdin bool
	}{
		{"destination alone", []string{"dev"}, nil, "dev", nil, 0, false, false},
		{"options after the destination", []string{"u@127.0.0.1", "-p", "2222", "--", "aws", "sts", "get-caller-identity"},
			[]string{"-p", "2222"}, "u@127.0.0.1", []string{"aws", "sts", "get-caller-identity"}, 0, false, false},
		{"options before, value attached", []string{"-p2222", "-oForwardAgent=yes", "box", "ls", "-l"},
			[]string{"-p2222", "-oForwardAgent=yes"}, "box", []string{"ls", "-l"}, 0, false, false},
		{"combined flags ending with one that takes a value", []string{"-4vp", "22", "box"},
			[]string{"-4vp", "22"}, "box", nil, 0, false, false},
		{"-tt counts", []string{"-tt", "box"}, []string{"-tt"}, "box", nil, 2, false, false},
		{"-T", []string{"-T", "box", "uptime"}, []string{"-T"}, "box", []string{"uptime"}, 0, true, false},
		{"-n is rolecall's to do", []string{"-nv", "box", "true"}, []string{"-v"}, "box", []string{"true"}, 0, false, true},
		{"-n alone", []string{"-n", "box"}, nil, "box", nil, 0, false, true},
		{"the command's own options", []string{"box", "ls", "-p", "x"}, nil, "box", []string{"ls", "-p", "x"}, 0, false, false},
		{"-- before the destination", []string{"-J", "jump", "--", "box", "-p"},
			[]string{"-J", "jump"}, "box", []string{"-p"}, 0, false, false},
		{"ssh URL", []string{"ssh://me@box:2200"}, nil, "ssh://me@box:2200", nil, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseArgs(tt.argv)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Options, tt.options) || a.Destination != tt.dest || !slices.Equal(a.Command, tt.command) ||
				a.TTY != tt.tty || a.NoTTY != tt.notty || a.NoStdin != tt.nostdin {
				t.Errorf("got %+v", a)
			}
		})
	}
}

func TestParseArgsRefuses(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{nil, "name the destination"},
		{[]string{"-p"}, "-p needs a value"},
		{[]string{"-N", "box"}, "-N runs no remote command"},
		{[]string{"box", "-f"}, "-f puts ssh in the background"},
		{[]string{"-qv", "box"}, "-q hides the line"},
		{[]string{"-E", "log", "box"}, "-E sends ssh's messages to a file"},
		{[]string{"-Z", "box"}, "unknown ssh option -Z"},
	}
	for _, tt := range tests {
		_, err := ParseArgs(tt.argv)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseArgs(%q) = %v; want %q", tt.argv, err, tt.want)
		}
	}
}

// TestEscapeCommand: what printf %b of the remote's sh makes of the
// escaped command is the command, byte for byte.
func TestEscapeCommand(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, cmd := range []string{
		"aws sts get-caller-identity",
		`echo "$HOME" 'it''s' \ back! ~ * ? [x] {a,b} ; & | < > ( ) # tab	end`,
		"two\nlines",
		"naïve 日本",
	} {
		e := escapeCommand(cmd)
		if strings.ContainsAny(e, "'!\n\"$") {
			t.Errorf("escaped %q still holds a character a login shell reads: %q", cmd, e)
		}
		out, err := exec.Command(sh, "-c", `printf "%b" "$1"`, "sh", e).Output()
		if err != nil || string(out) != cmd {
			t.Errorf("printf %%b of %q = %q, %v; want %q", e, out, err, cmd)
		}
	}
	if strings.ContainsAny(bootstrapScript, "'!\\\n") {
		t.Errorf("the bootstrap holds a character that a login shell would read inside single quotes")
	}
}

func TestCopyAfterMarker(t *testing.T) {
	const marker = "rolecall-ssh-ready-0123456789abcdef"
	tests := []struct {
		name, in, want string
		ready          bool
	}{
		{"marker line taken out", "banner\n" + marker + "\nafter\n", "banner\nafter\n", true},
		{"terminal line end", "x\r\n" + marker + "\r\nprompt$ ", "x\r\nprompt$ ", true},
		{"a prompt before is written", "Enter passphrase: " + marker + "\n", "Enter passphrase: ", true},
		{"no marker: all of it", "Permission denied (publickey).\nrolecall", "Permission denied (publickey).\nrolecall", false},
	}
	for _, tt := range tests {
		for _, slow := range []bool{false, true} {
			var r = bytes.NewBufferString(tt.in)
			var w bytes.Buffer
			ready := make(chan struct{})
			if slow {
				copyAfterMarker(&w, iotest.OneByteReader(r), marker, ready)
			} else {
				copyAfterMarker(&w, r, marker, ready)
			}
			closed := false
			select {
			case <-ready:
				closed = true
			default:
			}
			if w.String() != tt.want || closed != tt.ready {
				t.Errorf("%s (byte by byte %v): wrote %q, ready %v; want %q, %v", tt.name, slow, w.String(), closed, tt.want, tt.ready)
			}
		}
	}
}

// TestPromptNotHeldBack: output that cannot be the start of the marker
// (a password prompt without a newline) is written at once.
func TestPromptNotHeldBack(t *testing.T) {
	if k := partialSuffix([]byte("me@box's password: "), []byte("rolecall-ssh-ready-x")); k != 0 {
		t.Errorf("held back %d bytes of a prompt", k)
	}
	if k := partialSuffix([]byte("hello rolecall-ss"), []byte("rolecall-ssh-ready-x")); k != len("rolecall-ss") {
		t.Errorf("held back %d bytes; want the start of the marker", k)
	}
}

func TestStderrFilter(t *testing.T) {
	const allocated = "Allocated port 41234 for remote forward to 127.0.0.1:4144\r\n"
	tests := []struct {
		name, in, want string
		fixedPort      bool
		port, refused  int
	}{
		{"the port line taken out", "Warning: Permanently added 'box'\r\n" + allocated + "remote says\n",
			"Warning: Permanently added 'box'\r\nremote says\n", false, 41234, 0},
		{"a prompt after it shows", allocated + "[sudo] password for me: ", "[sudo] password for me: ", false, 41234, 0},
		{"refused: rolecall's line instead", "Error: remote port forwarding failed for listen port 0\r\n", "", false, 0, -1},
		{"a fixed port: nothing held", "prompt: ", "prompt: ", true, 0, 0},
		{"not at the start of a line: not the port line", "motd: Allocated port 41234 for remote forward to x\n",
			"motd: Allocated port 41234 for remote forward to x\n", false, 0, 0},
		{"no number: not the port line", "Allocated port x for remote forward to y\nAllocated port 7 to z\n",
			"Allocated port x for remote forward to y\nAllocated port 7 to z\n", false, 0, 0},
		{"a fixed port refused", "x\r\nError: remote port forwarding failed for listen port 5000\r\n",
			"x\r\nError: remote port forwarding failed for listen port 5000\r\n", true, 0, 5000},
	}
	for _, tt := range tests {
		for _, slow := range []bool{false, true} {
			var w bytes.Buffer
			forward, refused := make(chan int, 1), make(chan int, 1)
			f := &stderrFilter{w: &w, filtering: !tt.fixedPort, forward: forward, refused: refused}
			if slow {
				for i := range len(tt.in) {
					f.write([]byte{tt.in[i]})
				}
			} else {
				f.write([]byte(tt.in))
			}
			port, ref := 0, 0
			select {
			case port = <-forward:
			default:
			}
			select {
			case ref = <-refused:
				if ref == 0 {
					ref = -1
				}
			default:
			}
			if w.String() != tt.want || port != tt.port || ref != tt.refused {
				t.Errorf("%s (byte by byte %v): wrote %q, port %d, refused %d; want %q, %d, %d", tt.name, slow, w.String(), port, ref, tt.want, tt.port, tt.refused)
			}
		}
	}
}
