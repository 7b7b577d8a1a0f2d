package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/rolecall/rolecall/creds"
)

// TestIMDSServesTheSlotItNames: through the Go SDK's own IMDS client, each
// role name gets its own slot's credentials and an unknown name a 404,
// never the default slot's credentials under another name.
func TestIMDSServesTheSlotItNames(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.IMDS = true })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(l)
	t.Cleanup(func() { s.Close(context.Background()) })
	client := imds.New(imds.Options{Endpoint: "http://" + l.Addr().String()})
	ctx := context.Background()

	get := func(path string) (string, error) {
		out, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
		if err != nil {
			return "", err
		}
		defer out.Content.Close()
		b, err := io.ReadAll(out.Content)
		return string(b), err
	}
	list, err := get("iam/security-credentials/")
	if err != nil || list != "dev" {
		t.Fatalf("role list = %q, %v", list, err)
	}
	for role, wantARN := range map[string]string{
		"dev":             "arn:aws:iam::111122223333:role/dev",
		"Acme Corp+Admin": "arn:aws:iam::111122223333:role/Acme Corp/Admin",
	} {
		body, err := get("iam/security-credentials/" + role)
		if err != nil {
			t.Fatalf("credentials of %q: %v", role, err)
		}
		var c struct{ Code, RoleArn string }
		json.Unmarshal([]byte(body), &c)
		if c.Code != "Success" || c.RoleArn != wantARN {
			t.Errorf("role %q served %s, want %s", role, c.RoleArn, wantARN)
		}
	}
	_, err = get("iam/security-credentials/prod")
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound {
		t.Errorf("unknown role name: %v, want a 404", err)
	}
}

// TestIMDSTokenRefusedThroughProxy: a token PUT carrying X-Forwarded-For
// is refused, as EC2 does.
func TestIMDSTokenRefusedThroughProxy(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.IMDS = true })
	w := do(s, "PUT", "/latest/api/token", map[string]string{imdsTTLHeader: "60", "X-Forwarded-For": "10.0.0.7"})
	if w.Code != http.StatusForbidden {
		t.Fatalf("token PUT with X-Forwarded-For = %d %s, want 403", w.Code, w.Body)
	}
	if e := errorOf(t, w); !strings.Contains(e.Message, "X-Forwarded-For") {
		t.Errorf("message %q", e.Message)
	}
	if w := do(s, "PUT", "/latest/api/token", map[string]string{imdsTTLHeader: "60"}); w.Code != 200 {
		t.Errorf("token PUT without it = %d", w.Code)
	}
}

// TestURLBeforeOpenAndOnIPv6: the URL is where the listener listens: no
// panic before Open (a control request in the start-up window), and
// [::1] when bound to ::1, never 127.0.0.1 where nothing listens.
func TestURLBeforeOpenAndOnIPv6(t *testing.T) {
	s := newTestServer(t, func(o *Options) { o.Addr = "127.0.0.1:4144" })
	if got := s.URL(); got != "http://127.0.0.1:4144/" {
		t.Errorf("URL before Open = %q", got)
	}
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback here")
	}
	v6 := newTestServer(t, func(o *Options) { o.Addr = "[::1]:0" })
	v6.Serve(l)
	t.Cleanup(func() { v6.Close(context.Background()) })
	u := v6.URL()
	if !strings.HasPrefix(u, "http://[::1]:") {
		t.Fatalf("URL = %q, want [::1]", u)
	}
	req, _ := http.NewRequest("GET", u+"healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("nothing listens at the printed URL %s: %v", u, err)
	}
	resp.Body.Close()
}

// TestPermanentFailureIsNot503: a failure retrying cannot fix answers 409
// with what to do, not the 503 that SDKs retry.
func TestPermanentFailureIsNot503(t *testing.T) {
	status, msg := SourceErrorMessage("dev", fmt.Errorf("no profile dev in ~/.aws/config: %w", creds.ErrPermanent))
	if status != http.StatusConflict || !strings.Contains(msg, "rolecall roles") || !strings.Contains(msg, "no profile dev") {
		t.Errorf("permanent failure = %d %q", status, msg)
	}
}
