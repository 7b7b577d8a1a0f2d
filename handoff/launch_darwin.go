package handoff

func launcher(target string) (string, []string) { return "open", []string{target} }
