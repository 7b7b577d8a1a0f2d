package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// Grants is what the control channel needs from the owner of the grants.
type Grants interface {
	// AddFor mints a grant for the role of the resolved profile p (its
	// name and definition), ending after ttl (0: when revoked), and
	// returns it with its secret, shown this once.
	AddFor(name string, p creds.Profile, ttl time.Duration) (creds.Grant, string, error)
	Revoke(name string) (creds.Grant, error)
	List() []creds.Grant
	// Check says whether secret is a grant's that may be used now.
	Check(secret string) (creds.Grant, creds.GrantUse, error)
}

// GrantRequest asks for a grant named Name on one role.
type GrantRequest struct {
	Name    string `json:"name"`
	Profile string `json:"profile"`
	// TTL is a Go duration ("8h", "30m"); empty: until revoked.
	TTL string `json:"ttl,omitempty"`
}

// GrantInfo is one grant as `rolecall grant list --json` prints it. Times
// are UTC in the credentials' Expiration form; empty when not set.
type GrantInfo struct {
	Name     string `json:"name"`
	Profile  string `json:"profile"`
	State    string `json:"state"` // "active", "revoked" or "expired"
	Created  string `json:"created"`
	Expires  string `json:"expires,omitempty"`
	Revoked  string `json:"revoked,omitempty"`
	LastUsed string `json:"last_used,omitempty"`
	Uses     int64  `json:"uses"`
	// From is the client of the last hand-out: its executable, or
	// "container <address>".
	From string `json:"from,omitempty"`
}

// NewGrantInfo converts a grant.
func NewGrantInfo(g creds.Grant) GrantInfo {
	return GrantInfo{
		Name: g.Name, Profile: g.Slot, State: string(g.State), Created: wireTime(g.Created),
		Expires: wireTime(g.Expires), Revoked: wireTime(g.Revoked), LastUsed: wireTime(g.LastUsed),
		Uses: g.Uses, From: g.From,
	}
}

func wireTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(creds.ExpirationFormat)
}

// GrantAdded is a new grant and what its consumer needs: the secret (as
// AWS_CONTAINER_AUTHORIZATION_TOKEN with FullURI, or as the credential ID
// of RelativeURI); it is shown this once.
type GrantAdded struct {
	Grant  GrantInfo `json:"grant"`
	Secret string    `json:"secret"`
	// FullURI is the listener's URL of the grant's slot.
	FullURI string `json:"full_uri"`
	// RelativeURI is /v2/credentials/<secret>, for containers
	// (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, http://169.254.170.2).
	RelativeURI string `json:"relative_uri"`
	// Region is the role's region (creds.Profile.Region), if it has one.
	Region string `json:"region,omitempty"`
}

// GrantName names a grant to revoke.
type GrantName struct {
	Name string `json:"name"`
}

// GrantSecret carries a secret to check (`rolecall doctor`).
type GrantSecret struct {
	Secret string `json:"secret"`
}

// GrantCheck is what a secret opens: the grant, and the one-line advice
// when it can no longer be used (empty when it can).
type GrantCheck struct {
	Grant   GrantInfo `json:"grant"`
	Problem string    `json:"problem,omitempty"`
}

// sameUser refuses a request from another user where the OS tells
// (Linux): a grant's secret is handed only to the user running rolecall.
func sameUser(w http.ResponseWriter, r *http.Request) bool {
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	if uid, known := peerUID(conn); known && uid != os.Getuid() {
		writeError(w, http.StatusForbidden, "grants are handed only to the user running rolecall")
		return false
	}
	return true
}

func (c *Server) grants(w http.ResponseWriter) bool {
	if c.opts.Grants == nil {
		writeError(w, http.StatusNotImplemented, "this rolecall keeps no grants")
		return false
	}
	return true
}

func (c *Server) grantAdd(w http.ResponseWriter, r *http.Request) {
	var req GrantRequest
	if !c.grants(w) || !sameUser(w, r) || !readJSON(w, r, &req) {
		return
	}
	if req.Profile == "" {
		writeError(w, http.StatusBadRequest, "name the role the grant reads: --profile P (`rolecall roles` lists them)")
		return
	}
	ttl, ok := parseTTL(w, req.TTL)
	if !ok {
		return
	}
	p, ok := c.resolve(w, r, LoadRequest{Profile: req.Profile})
	if !ok {
		return
	}
	g, secret, err := c.opts.Grants.AddFor(req.Name, p, ttl)
	if err != nil {
		var pr *creds.Problem
		status := http.StatusInternalServerError
		if errors.As(err, &pr) {
			status = http.StatusBadRequest
			if pr.Text == creds.GrantExists {
				status = http.StatusConflict
			}
		}
		writeError(w, status, err.Error())
		return
	}
	writeJSON(w, GrantAdded{
		Grant: NewGrantInfo(g), Secret: secret,
		FullURI:     c.opts.Listener.URL() + "slot/" + url.PathEscape(p.Name),
		RelativeURI: "/v2/credentials/" + secret,
		Region:      p.Region,
	})
}

// parseTTL reads a grant's TTL ("" is none); a bad one is answered.
func parseTTL(w http.ResponseWriter, s string) (time.Duration, bool) {
	if s == "" {
		return 0, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second {
		writeError(w, http.StatusBadRequest, creds.Say(creds.GrantBadTTL, s))
		return 0, false
	}
	return d, true
}

func (c *Server) grantList(w http.ResponseWriter, r *http.Request) {
	if !c.grants(w) {
		return
	}
	out := []GrantInfo{}
	for _, g := range c.opts.Grants.List() {
		out = append(out, NewGrantInfo(g))
	}
	writeJSON(w, out)
}

func (c *Server) grantRevoke(w http.ResponseWriter, r *http.Request) {
	var req GrantName
	if !c.grants(w) || !readJSON(w, r, &req) {
		return
	}
	g, err := c.opts.Grants.Revoke(req.Name)
	switch {
	case errors.Is(err, creds.ErrNoSuchGrant):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, NewGrantInfo(g))
	}
}

func (c *Server) grantCheck(w http.ResponseWriter, r *http.Request) {
	var req GrantSecret
	if !c.grants(w) || !sameUser(w, r) || !readJSON(w, r, &req) {
		return
	}
	g, _, err := c.opts.Grants.Check(req.Secret)
	if errors.Is(err, creds.ErrNoSuchGrant) {
		writeError(w, http.StatusNotFound, creds.Say(creds.GrantUnknown))
		return
	}
	out := GrantCheck{Grant: NewGrantInfo(g)}
	if err != nil {
		out.Problem = creds.GrantAdvice(g, err)
	}
	writeJSON(w, out)
}

// AddGrant mints a grant; the answer holds its secret.
func (c *Client) AddGrant(ctx context.Context, req GrantRequest) (GrantAdded, error) {
	var a GrantAdded
	return a, c.do(ctx, http.MethodPost, "/v1/grants", req, &a)
}

// Grants lists the grants, active ones first.
func (c *Client) Grants(ctx context.Context) ([]GrantInfo, error) {
	var l []GrantInfo
	return l, c.do(ctx, http.MethodGet, "/v1/grants", nil, &l)
}

// RevokeGrant ends the active grant named name.
func (c *Client) RevokeGrant(ctx context.Context, name string) (GrantInfo, error) {
	var g GrantInfo
	return g, c.do(ctx, http.MethodPost, "/v1/grants/revoke", GrantName{Name: name}, &g)
}

// CheckGrant says what secret opens (`rolecall doctor`).
func (c *Client) CheckGrant(ctx context.Context, secret string) (GrantCheck, error) {
	var g GrantCheck
	return g, c.do(ctx, http.MethodPost, "/v1/grants/check", GrantSecret{Secret: secret}, &g)
}
