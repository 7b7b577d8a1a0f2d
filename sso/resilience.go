package sso

import (
	"context"
	"errors"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"github.com/aws/smithy-go"
)

// reregister replaces a registration of kind k that Identity Center no
// longer knows (InvalidClientException) with a new one.
func (c *Client) reregister(ctx context.Context, client *ssooidc.Client, s *Session, k clientKind) (registration, error) {
	c.log.Info("IAM Identity Center no longer knows rolecall's client registration; registering again", "session", s.Key)
	if err := c.opts.Keyring.Delete(k.entry(s.Key)); err != nil {
		c.log.Warn("keyring delete failed", "session", s.Key, "err", err)
	}
	return c.registration(ctx, client, s, k)
}

func isInvalidClient(err error) bool {
	var inv *types.InvalidClientException
	return errors.As(err, &inv)
}

// transient: a call that failed without an answer from Identity Center
// (a timeout, a lost connection) or with a 5xx; worth another try.
func transient(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode() == 0 || re.HTTPStatusCode() >= 500
	}
	var api smithy.APIError
	return !errors.As(err, &api)
}
