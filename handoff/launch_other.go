//go:build !darwin && !windows

package handoff

func launcher(target string) (string, []string) { return "xdg-open", []string{target} }
