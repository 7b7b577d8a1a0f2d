package handoff

func launcher(target string) (string, []string) {
	return "rundll32", []string{"url.dll,FileProtocolHandler", target}
}
