package main

import (
	"fmt"
	"slices"
	"strings"
)

// verbFlags lists every verb with its flags, for the shell completions.
var verbFlags = map[string][]string{
	"serve":      {"--bind", "--port", "--tls-cert", "--tls-key", "--imds", "--debug"},
	"login":      {"--sso-session", "--profile", "--region", "--no-browser", "--pkce", "--force"},
	"logout":     {"--sso-session"},
	"roles":      {"--json", "--names"},
	"load":       {"--profile", "--account", "--role", "--slot"},
	"unload":     {"--profile"},
	"list":       {"--json"},
	"current":    {},
	"env":        {"--profile", "--shell", "--imds", "--token-file-only"},
	"token":      {"--rotate"},
	"tls":        {"save", "print", "delete", "--cert", "--key"},
	"autostart":  {"on", "off", "status"},
	"doctor":     {"--json"},
	"completion": {"bash", "zsh", "fish", "powershell"},
	"version":    {},
	"exec":       {"--profile", "--"},
	"console":    {"--profile", "--print"},
	"stop":       {},
	"grant":      {"add", "list", "revoke", "--profile", "--ttl", "--container", "--shell", "--format", "--json"},
	"containers": {"on", "off", "status", "--interface", "--port"},
	"ssh":        {"--profile", "--ttl", "--keep", "--remote-port", "--"},

	"credential-process": {"--profile"},
}

func verbs() []string {
	var v []string
	for k := range verbFlags {
		v = append(v, k)
	}
	slices.Sort(v)
	return v
}

func (c *cli) completion(args []string) int {
	if rc, done := c.actionVerb(args, "completion bash|zsh|fish|powershell", "source <(rolecall completion bash)"); done {
		return rc
	}
	if len(args) != 1 {
		fmt.Fprintln(c.stderr, "rolecall completion: name one shell: bash, zsh, fish or powershell")
		return exitUsage
	}
	var b strings.Builder
	switch args[0] {
	case "bash", "zsh":
		if args[0] == "zsh" {
			b.WriteString("#compdef rolecall\nautoload -U +X bashcompinit && bashcompinit\n")
		}
		b.WriteString("_rolecall() {\n  local cur prev verb\n  cur=${COMP_WORDS[COMP_CWORD]}\n  prev=${COMP_WORDS[COMP_CWORD-1]}\n  verb=${COMP_WORDS[1]}\n")
		b.WriteString("  if [ \"$COMP_CWORD\" -eq 1 ]; then COMPREPLY=($(compgen -W \"" + strings.Join(verbs(), " ") + "\" -- \"$cur\")); return; fi\n")
		// Names hold spaces ("Acme Prod/ReadOnly"): one per line, each
		// inserted quoted for the shell.
		b.WriteString("  case $prev in\n    --profile) local IFS=$'\\n' i; COMPREPLY=($(compgen -W \"$(rolecall roles --names 2>/dev/null)\" -- \"$cur\"))\n" +
			"      for i in \"${!COMPREPLY[@]}\"; do COMPREPLY[i]=$(printf '%q' \"${COMPREPLY[i]}\"); done; return;;\n")
		b.WriteString("    --shell) COMPREPLY=($(compgen -W \"sh fish powershell\" -- \"$cur\")); return;;\n")
		b.WriteString("    --tls-cert|--tls-key|--cert|--key) COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n  esac\n  case $verb in\n")
		for _, v := range verbs() {
			fmt.Fprintf(&b, "    %s) COMPREPLY=($(compgen -W %q -- \"$cur\"));;\n", v, strings.Join(verbFlags[v], " "))
		}
		b.WriteString("  esac\n}\ncomplete -F _rolecall rolecall\n")
	case "fish":
		b.WriteString("complete -c rolecall -f\n")
		fmt.Fprintf(&b, "complete -c rolecall -n __fish_use_subcommand -a %q\n", strings.Join(verbs(), " "))
		for _, v := range verbs() {
			for _, f := range verbFlags[v] {
				if strings.HasPrefix(f, "--") {
					fmt.Fprintf(&b, "complete -c rolecall -n '__fish_seen_subcommand_from %s' -l %s\n", v, strings.TrimPrefix(f, "--"))
				} else {
					fmt.Fprintf(&b, "complete -c rolecall -n '__fish_seen_subcommand_from %s' -a %s\n", v, f)
				}
			}
		}
		b.WriteString("complete -c rolecall -n '__fish_seen_subcommand_from load unload env exec console credential-process grant' -l profile -x -a '(rolecall roles --names 2>/dev/null)'\n")
	case "powershell":
		b.WriteString("Register-ArgumentCompleter -Native -CommandName rolecall -ScriptBlock {\n  param($wordToComplete, $commandAst, $cursorPosition)\n  $words = $commandAst.CommandElements | ForEach-Object { $_.ToString() }\n")
		b.WriteString("  $flags = @{\n")
		for _, v := range verbs() {
			quoted := make([]string, len(verbFlags[v]))
			for i, f := range verbFlags[v] {
				quoted[i] = "'" + f + "'"
			}
			fmt.Fprintf(&b, "    '%s' = @(%s)\n", v, strings.Join(quoted, ", "))
		}
		b.WriteString("  }\n  if ($words.Count -le 2 -and -not $wordToComplete.StartsWith('-')) { $candidates = $flags.Keys }\n")
		b.WriteString("  elseif ($words[-1] -eq '--profile' -or ($words.Count -ge 2 -and $words[-2] -eq '--profile')) { $candidates = rolecall roles --names 2>$null }\n")
		b.WriteString("  else { $candidates = $flags[$words[1]] }\n  $candidates | Where-Object { $_ -like \"$wordToComplete*\" } | Sort-Object | ForEach-Object {\n")
		b.WriteString("    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)\n  }\n}\n")
	default:
		fmt.Fprintf(c.stderr, "rolecall completion: unknown shell %q: choose bash, zsh, fish or powershell\n", args[0])
		return exitUsage
	}
	fmt.Fprint(c.stdout, b.String())
	return exitOK
}
