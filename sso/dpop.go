package sso

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/signin"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// dpopProof is an RFC 9449 proof of possession of key for one request:
// a JWS (ES256) whose header carries the public key and whose claims name
// the method, the URL, the time and a fresh id.
func dpopProof(key *ecdsa.PrivateKey, method, url string, now time.Time) (string, error) {
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return "", fmt.Errorf("DPoP key: %w", err)
	}
	raw := pub.Bytes() // 0x04 || X || Y, each 32 bytes: padded as RFC 7518 wants
	b64 := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]any{
		"typ": "dpop+jwt", "alg": "ES256",
		"jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:65])},
	})
	claims, _ := json.Marshal(map[string]any{"htm": method, "htu": url, "iat": now.Unix(), "jti": uuid4()})
	msg := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(msg))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign the DPoP proof: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return msg + "." + b64(sig), nil
}

// uuid4 is a random (version 4) UUID.
func uuid4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// withDPoP signs every attempt of a sign-in call with a proof made with
// key: in the Finalize step, after the retry middleware, so that each
// retry has its own proof (jti) and the URL the request really goes to.
func withDPoP(key *ecdsa.PrivateKey, now func() time.Time) func(*signin.Options) {
	return signin.WithAPIOptions(func(stack *middleware.Stack) error {
		return stack.Finalize.Add(dpopSigner{key: key, now: now}, middleware.After)
	})
}

type dpopSigner struct {
	key *ecdsa.PrivateKey
	now func() time.Time
}

func (dpopSigner) ID() string { return "rolecallDPoP" }

func (d dpopSigner) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("DPoP: unexpected transport request %T", in.Request)
	}
	proof, err := dpopProof(d.key, req.Method, req.URL.String(), d.now())
	if err != nil {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, err
	}
	req.Header.Set("DPoP", proof)
	return next.HandleFinalize(ctx, in)
}
