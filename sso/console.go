package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// FederationEndpointEnv overrides the AWS sign-in federation endpoint of
// every partition (tests point it at a fake).
const FederationEndpointEnv = "ROLECALL_FEDERATION_ENDPOINT"

// federationOverrideAllowed refuses an override that would send the
// role's secret key where others can read it: only https, or plain http to
// this machine's loopback (the tests' fake; the key does not leave the
// machine, and the variable is the user's own to set). A plain http URL to
// any other host would put the key on the network in clear.
func federationOverrideAllowed(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err == nil && u.Scheme == "https" && u.Host != "" {
		return nil
	}
	if err == nil && u.Scheme == "http" {
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("%s=%q: not used, it would send the role's secret key in clear: give an https:// URL (or http:// to 127.0.0.1 for a local fake), or unset it", FederationEndpointEnv, endpoint)
}

// consoleIssuer is the Issuer of the login URL: where the console sends
// the user back when the sign-in expires.
const consoleIssuer = "https://github.com/rolecall/rolecall"

// partitionHosts are the sign-in federation endpoint and the console of
// one AWS partition.
type partitionHosts struct {
	Federation string
	Console    string
}

// consoleHosts picks the partition from the role ARN, else from the
// region's name.
func consoleHosts(roleARN, region string) partitionHosts {
	partition := "aws"
	if parts := strings.SplitN(roleARN, ":", 3); len(parts) == 3 && parts[0] == "arn" {
		partition = parts[1]
	} else if strings.HasPrefix(region, "cn-") {
		partition = "aws-cn"
	} else if strings.HasPrefix(region, "us-gov-") {
		partition = "aws-us-gov"
	}
	switch partition {
	case "aws-us-gov":
		return partitionHosts{"https://signin.amazonaws-us-gov.com/federation", "https://console.amazonaws-us-gov.com/"}
	case "aws-cn":
		return partitionHosts{"https://signin.amazonaws.cn/federation", "https://console.amazonaws.cn/"}
	}
	return partitionHosts{"https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/"}
}

// consoleClient bounds the sign-in call.
var consoleClient = &http.Client{Timeout: 30 * time.Second}

// ConsoleURL signs in to the AWS console as the role of cr: the federation
// endpoint's getSigninToken trades the role's session credentials for a
// sign-in token, which goes into a login URL whose Destination is the
// console (of region, when given). The URL is a secret for 15 minutes.
func ConsoleURL(ctx context.Context, cr creds.Credentials, region string) (string, error) {
	if cr.SessionToken == "" {
		return "", errors.New("the AWS console sign-in needs temporary credentials with a session token")
	}
	hosts := consoleHosts(cr.RoleARN, region)
	endpoint := hosts.Federation
	if e := os.Getenv(FederationEndpointEnv); e != "" {
		if err := federationOverrideAllowed(e); err != nil {
			return "", err
		}
		endpoint = e
	}
	session, _ := json.Marshal(map[string]string{
		"sessionId": cr.AccessKeyID, "sessionKey": cr.SecretAccessKey, "sessionToken": cr.SessionToken,
	})
	q := url.Values{"Action": {"getSigninToken"}, "SessionType": {"json"}, "Session": {string(session)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("AWS sign-in endpoint %s: %w", endpoint, err)
	}
	resp, err := consoleClient.Do(req)
	if err != nil {
		// The error names the URL, which carries the secret key: say less.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return "", fmt.Errorf("AWS sign-in endpoint %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var out struct{ SigninToken string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.SigninToken == "" {
		return "", fmt.Errorf("AWS sign-in endpoint %s refused the role's credentials (HTTP %d): load the role again, or check that it may use the console", endpoint, resp.StatusCode)
	}
	dest := hosts.Console
	if region != "" {
		dest += "console/home?region=" + url.QueryEscape(region)
	}
	login := url.Values{"Action": {"login"}, "Issuer": {consoleIssuer}, "Destination": {dest}, "SigninToken": {out.SigninToken}}
	return endpoint + "?" + login.Encode(), nil
}
