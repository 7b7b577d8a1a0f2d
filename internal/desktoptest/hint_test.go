package desktoptest

import "testing"

func TestPlatformHint(t *testing.T) {
	for _, tt := range []struct{ why, goos, want string }{
		{"the AWS CLI (aws) is missing: sudo apt-get install awscli", "linux", "the AWS CLI (aws) is missing: sudo apt-get install awscli"},
		{"the AWS CLI (aws) is missing: sudo apt-get install awscli", "windows", "the AWS CLI (aws) is missing: winget install Amazon.AWSCLI"},
		{"bash is missing: sudo apt-get install bash", "darwin", "bash is missing: brew install bash"},
		{"ip is missing: sudo apt-get install iproute2", "windows", "ip is missing (Linux only)"},
		{"moto_server is missing: pip install 'moto[server]'", "windows", "moto_server is missing: pip install 'moto[server]'"},
	} {
		if got := platformHint(tt.why, tt.goos); got != tt.want {
			t.Errorf("platformHint(%q, %s) = %q, want %q", tt.why, tt.goos, got, tt.want)
		}
	}
}
