package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCompletionsCoverEveryVerb(t *testing.T) {
	var got []string
	for v := range (&cli{}).commands() {
		got = append(got, v)
	}
	slices.Sort(got)
	if !slices.Equal(got, verbs()) {
		t.Errorf("verbs %v, completions know %v", got, verbs())
	}
}

func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		skipOrFail(t, "bash is missing: sudo apt-get install bash")
	}
	out, _, rc := cliRun(t, "completion", "bash")
	if rc != 0 {
		t.Fatal("completion bash failed")
	}
	script := filepath.Join(t.TempDir(), "c.bash")
	os.WriteFile(script, []byte(out), 0o600)
	for words, want := range map[string]string{
		"rolecall lo":            "load login logout",
		"rolecall load --p":      "--profile",
		"rolecall env --shell f": "fish",
		"rolecall autostart s":   "status",
		"rolecall cr":            "credential-process",
		"rolecall console --p":   "--profile --print",
		"rolecall login --p":     "--profile --pkce",
	} {
		w := strings.Fields(words)
		prog := "source " + script + "; COMP_WORDS=(" + strings.Join(w, " ") + "); COMP_CWORD=" + strconv.Itoa(len(w)-1) + "; _rolecall; echo ${COMPREPLY[@]}"
		got, err := exec.Command(bash, "-c", prog).Output()
		if err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("complete %q = %q, %v; want %q", words, got, err, want)
		}
	}
	// A discovered role's name holds a space: it is inserted quoted.
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "rolecall"), []byte("#!/bin/sh\nprintf 'Acme Prod/ReadOnly\\ndev\\n'\n"), 0o700)
	prog := "PATH=" + bin + ":$PATH; source " + script + "; COMP_WORDS=(rolecall load --profile Ac); COMP_CWORD=3; _rolecall; printf '%s|' \"${COMPREPLY[@]}\""
	if got, err := exec.Command(bash, "-c", prog).Output(); err != nil || string(got) != `Acme\ Prod/ReadOnly|` {
		t.Errorf("complete a name with a space = %q, %v; want %q", got, err, `Acme\ Prod/ReadOnly|`)
	}
	for _, sh := range []string{"zsh", "fish", "powershell"} {
		if out, _, rc := cliRun(t, "completion", sh); rc != 0 || !strings.Contains(out, "rolecall") {
			t.Errorf("completion %s: %d", sh, rc)
		}
	}
	if _, _, rc := cliRun(t, "completion", "tcsh"); rc != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", rc)
	}
}
