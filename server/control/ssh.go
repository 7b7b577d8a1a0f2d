package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// SSHLeases is what the control channel needs for `rolecall ssh`: a
// session's share of its destination's grant, held until release.
type SSHLeases interface {
	Acquire(destination, slot string, ttl time.Duration, keep bool) (grant, secret string, release func(), err error)
}

// SSHRequest asks for the grant of one `rolecall ssh` session.
type SSHRequest struct {
	Destination string `json:"destination"`
	// Profile is the role the remote gets; empty: the default slot's.
	Profile string `json:"profile,omitempty"`
	// TTL is a Go duration ("8h"); empty: until the last session ends
	// (with Keep: 12 hours).
	TTL  string `json:"ttl,omitempty"`
	Keep bool   `json:"keep,omitempty"`
}

// SSHLease is the answer's first line: the grant the session shares and
// what the remote needs. The answer stays open while the session lasts;
// its end (the `rolecall ssh` process gone, killed or not) releases the
// share.
type SSHLease struct {
	Grant   string `json:"grant"`
	Profile string `json:"profile"`
	Secret  string `json:"secret"`
	// FullURI is the listener's URL of the grant's slot, as seen on this
	// machine; the remote reaches it through the forward.
	FullURI string `json:"full_uri"`
}

// ssh hands out a share of a destination's grant and holds it until the
// client goes away or rolecall stops. Only the user running rolecall gets
// one (the peer's user where the OS tells, as for grant add).
func (c *Server) ssh(w http.ResponseWriter, r *http.Request) {
	if c.opts.SSH == nil {
		writeError(w, http.StatusNotImplemented, "this rolecall keeps no grants")
		return
	}
	var req SSHRequest
	if !sameUser(w, r) || !readJSON(w, r, &req) {
		return
	}
	if req.Destination == "" {
		writeError(w, http.StatusBadRequest, "name the destination")
		return
	}
	ttl, ok := parseTTL(w, req.TTL)
	if !ok {
		return
	}
	profile := req.Profile
	if profile == "" {
		st := c.opts.Manager.Snapshot()
		if st.Default == nil {
			writeError(w, http.StatusNotFound, creds.Advice(creds.DefaultSlot, creds.ErrNothingLoaded))
			return
		}
		profile = st.Default.Profile.Name
	}
	p, ok := c.resolve(w, r, LoadRequest{Profile: profile})
	if !ok {
		return
	}
	grant, secret, release, err := c.opts.SSH.Acquire(req.Destination, p.Name, ttl, req.Keep)
	if err != nil {
		status := http.StatusInternalServerError
		var pr *creds.Problem
		if errors.As(err, &pr) {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	defer release()
	c.log.Info("ssh session started", "grant", grant, "destination", req.Destination)
	defer c.log.Info("ssh session ended", "grant", grant, "destination", req.Destination)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(SSHLease{Grant: grant, Profile: p.Name, Secret: secret,
		FullURI: c.opts.Listener.URL() + "slot/" + url.PathEscape(p.Name)})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	// The client never writes after its request: a read that ends is the
	// client gone.
	select {
	case <-r.Context().Done():
	case <-c.closing.Done():
	}
}

// SSH asks for the grant of a session to destination and holds the share
// until ctx ends (or the process exits: the connection's end releases
// it). ended is closed when the running rolecall lets go first (it
// stopped).
func (c *Client) SSH(ctx context.Context, req SSHRequest) (lease SSHLease, ended <-chan struct{}, err error) {
	resp, err := c.stream(ctx, "/v1/ssh", req)
	if err != nil {
		return SSHLease{}, nil, err
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadBytes('\n')
	if err != nil {
		resp.Body.Close()
		return SSHLease{}, nil, fmt.Errorf("ssh lease: %w", err)
	}
	if err := json.Unmarshal(line, &lease); err != nil {
		resp.Body.Close()
		return SSHLease{}, nil, fmt.Errorf("ssh lease: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		io.Copy(io.Discard, br)
	}()
	return lease, done, nil
}
