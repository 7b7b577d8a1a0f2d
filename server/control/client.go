package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"
)

// ErrNotRunning: no rolecall process answers on the control socket.
var ErrNotRunning = errors.New("rolecall is not running")

// Client talks to a running rolecall over its control socket.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the control socket at path.
func NewClient(path string) *Client {
	return &Client{path: path, http: &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return Dial(ctx, path)
			},
		},
		// Loads wait on upstream; the server bounds them at one minute.
		Timeout: 90 * time.Second,
	}}
}

// Status asks for the running process's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// Stop asks the running process to shut down; it answers with its status
// before it goes.
func (c *Client) Stop(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodPost, "/v1/stop", struct{}{}, &s)
}

// Slots lists the loaded slots, the default one first.
func (c *Client) Slots(ctx context.Context) ([]SlotInfo, error) {
	var s []SlotInfo
	return s, c.do(ctx, http.MethodGet, "/v1/slots", nil, &s)
}

// Load loads a profile or an account and role.
func (c *Client) Load(ctx context.Context, req LoadRequest) (SlotInfo, error) {
	var s SlotInfo
	return s, c.do(ctx, http.MethodPost, "/v1/load", req, &s)
}

// Unload empties the default slot (profile "") or the named slot.
func (c *Client) Unload(ctx context.Context, profile string) error {
	return c.do(ctx, http.MethodPost, "/v1/unload", UnloadRequest{Profile: profile}, nil)
}

// Env returns the URL and token file for the default slot or a named one.
func (c *Client) Env(ctx context.Context, profile string) (Env, error) {
	var e Env
	p := "/v1/env"
	if profile != "" {
		p += "?profile=" + url.QueryEscape(profile)
	}
	return e, c.do(ctx, http.MethodGet, p, nil, &e)
}

// Token returns the bearer token; rotate replaces it first.
func (c *Client) Token(ctx context.Context, rotate bool) (string, error) {
	var t Token
	if rotate {
		return t.Token, c.do(ctx, http.MethodPost, "/v1/token/rotate", nil, &t)
	}
	return t.Token, c.do(ctx, http.MethodGet, "/v1/token", nil, &t)
}

// SaveTLS stores a certificate and key pair.
func (c *Client) SaveTLS(ctx context.Context, cert, key []byte) (TLSPair, error) {
	var p TLSPair
	return p, c.do(ctx, http.MethodPut, "/v1/tls", TLSPair{Cert: string(cert), Key: string(key)}, &p)
}

// TLS returns the stored certificate.
func (c *Client) TLS(ctx context.Context) (TLSPair, error) {
	var p TLSPair
	return p, c.do(ctx, http.MethodGet, "/v1/tls", nil, &p)
}

// DeleteTLS removes the stored pair.
func (c *Client) DeleteTLS(ctx context.Context) (TLSPair, error) {
	var p TLSPair
	return p, c.do(ctx, http.MethodDelete, "/v1/tls", nil, &p)
}

// APIError is an error answer from the running process.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return e.Message }

// stream posts in and returns the response for the caller to read as it
// comes, with no overall timeout (a login waits for the user).
func (c *Client) stream(ctx context.Context, path string, in any) (*http.Response, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://rolecall"+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	cl := *c.http
	cl.Timeout = 0
	resp, err := cl.Do(req)
	if err != nil {
		return nil, c.connError(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, apiError(resp)
	}
	return resp, nil
}

func (c *Client) connError(err error) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%w (no process answers on %s)", ErrNotRunning, c.path)
	}
	return fmt.Errorf("control socket %s: %w", c.path, err)
}

func apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e errorBody
	if json.Unmarshal(b, &e) != nil || e.Message == "" {
		e.Message = fmt.Sprintf("unexpected answer %s from the running rolecall", resp.Status)
	}
	return &APIError{Status: resp.StatusCode, Message: e.Message}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://rolecall"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.connError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("control socket: bad answer: %w", err)
		}
	}
	return nil
}
