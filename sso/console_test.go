package sso

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/rolecall/rolecall/creds"
)

func TestConsoleURL(t *testing.T) {
	h := newHarness(t, nil)
	h.login()
	t.Setenv(FederationEndpointEnv, h.fake.URL+"/federation")
	cr, err := h.client.Fetch(context.Background(), creds.Profile{Name: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, arn, region, dest string
	}{
		{"aws", cr.RoleARN, "eu-west-1", "https://console.aws.amazon.com/console/home?region=eu-west-1"},
		{"aws without region", cr.RoleARN, "", "https://console.aws.amazon.com/"},
		{"aws-us-gov", "arn:aws-us-gov:iam::111111111111:role/Admin", "us-gov-west-1", "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1"},
		{"aws-cn", "arn:aws-cn:iam::111111111111:role/Admin", "cn-north-1", "https://console.amazonaws.cn/console/home?region=cn-north-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cr
			c.RoleARN = tt.arn
			got, err := ConsoleURL(context.Background(), c, tt.region)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(got)
			q := u.Query()
			if !strings.HasPrefix(got, h.fake.URL+"/federation?") || q.Get("Action") != "login" || q.Get("Issuer") == "" || q.Get("SigninToken") == "" {
				t.Errorf("login URL = %s", got)
			}
			if q.Get("Destination") != tt.dest {
				t.Errorf("Destination = %q, want %q", q.Get("Destination"), tt.dest)
			}
			// The federation endpoint takes the token and sends the browser on.
			_, body, loc := browse(t, got, false)
			if loc != tt.dest {
				t.Errorf("login redirected to %q (%s), want %q", loc, body, tt.dest)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		c := cr
		c.SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		_, err := ConsoleURL(context.Background(), c, "")
		if err == nil || !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), c.SecretAccessKey) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Setenv(FederationEndpointEnv, "http://127.0.0.1:1/federation")
		_, err := ConsoleURL(context.Background(), cr, "")
		if err == nil || strings.Contains(err.Error(), url.QueryEscape(cr.SecretAccessKey)) || strings.Contains(err.Error(), cr.SessionToken) {
			t.Errorf("err = %v (must not carry the credentials)", err)
		}
	})
	if n := h.fake.Calls("GetSigninToken"); n != len(tests)+1 {
		t.Errorf("GetSigninToken = %d", n)
	}
}

func TestConsoleHosts(t *testing.T) {
	tests := []struct {
		arn, region string
		want        partitionHosts
	}{
		{"arn:aws:iam::111111111111:role/A", "eu-west-1", partitionHosts{"https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/"}},
		{"arn:aws-us-gov:iam::111111111111:role/A", "", partitionHosts{"https://signin.amazonaws-us-gov.com/federation", "https://console.amazonaws-us-gov.com/"}},
		{"arn:aws-cn:sts::111111111111:assumed-role/A/s", "", partitionHosts{"https://signin.amazonaws.cn/federation", "https://console.amazonaws.cn/"}},
		{"", "cn-northwest-1", partitionHosts{"https://signin.amazonaws.cn/federation", "https://console.amazonaws.cn/"}},
		{"", "us-gov-east-1", partitionHosts{"https://signin.amazonaws-us-gov.com/federation", "https://console.amazonaws-us-gov.com/"}},
		{"", "", partitionHosts{"https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/"}},
	}
	for _, tt := range tests {
		if got := consoleHosts(tt.arn, tt.region); got != tt.want {
			t.Errorf("consoleHosts(%q, %q) = %+v, want %+v", tt.arn, tt.region, got, tt.want)
		}
	}
}

// TestFederationOverrideRefusesClearText: the federation endpoint override
// (a test seam) never sends the role's secret key in clear over the
// network: https anywhere, plain http only to the loopback.
func TestFederationOverrideRefusesClearText(t *testing.T) {
	cr := creds.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", SessionToken: "FwoGZXIvYXdzEXAMPLE"}
	for _, tt := range []struct {
		endpoint string
		allowed  bool
	}{
		{"https://signin.example.com/federation", true},
		{"http://127.0.0.1:8080/federation", true},
		{"http://[::1]:8080/federation", true},
		{"http://localhost:8080/federation", true},
		{"http://signin.example.com/federation", false},
		{"http://10.0.0.5/federation", false},
		{"ftp://127.0.0.1/federation", false},
		{"127.0.0.1:8080", false},
	} {
		err := federationOverrideAllowed(tt.endpoint)
		if (err == nil) != tt.allowed {
			t.Errorf("%s: %v, allowed = %v", tt.endpoint, err, tt.allowed)
		}
		if err != nil && !strings.Contains(err.Error(), "https://") {
			t.Errorf("%s: %v does not say what to use", tt.endpoint, err)
		}
	}
	// Refused before any request: nothing listens there, and the error
	// is not a connection error.
	t.Setenv(FederationEndpointEnv, "http://signin.invalid/federation")
	if _, err := ConsoleURL(context.Background(), cr, ""); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("ConsoleURL with a clear-text override: %v", err)
	}
}
