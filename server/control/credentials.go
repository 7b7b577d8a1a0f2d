package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"

	"github.com/rolecall/rolecall/creds"
)

// connKey carries a request's connection in its context, for the peer
// check of the credentials route.
type connKey struct{}

// withConn is the control server's ConnContext.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// credentials hands a loaded slot's credentials to the CLI. Only the
// control socket serves them, never the credential listener: the socket is
// 0600 in a 0700 directory, and where the OS tells the peer's user (Linux)
// a connection from anyone but the user running rolecall is refused too.
// Nothing is loaded on this path: a slot that is not loaded is 404, and
// the CLI loads it explicitly. Secrets are never logged.
func (c *Server) credentials(w http.ResponseWriter, r *http.Request) {
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	if uid, known := peerUID(conn); known && uid != os.Getuid() {
		writeError(w, http.StatusForbidden, "credentials are handed only to the user running rolecall")
		return
	}
	name := r.URL.Query().Get("profile")
	if _, ok := c.opts.Manager.Lookup(name); !ok {
		err := creds.ErrNoSuchSlot
		if name == creds.DefaultSlot {
			err = creds.ErrNothingLoaded
		}
		writeError(w, http.StatusNotFound, creds.Advice(name, err))
		return
	}
	cr, _, err := c.opts.Manager.Get(r.Context(), name)
	if err != nil {
		status := http.StatusServiceUnavailable
		switch {
		case errors.Is(err, creds.ErrLoginRequired):
			status = http.StatusForbidden
		case errors.Is(err, creds.ErrNoSuchSlot), errors.Is(err, creds.ErrNothingLoaded):
			status = http.StatusNotFound
		}
		writeError(w, status, creds.Advice(name, err))
		return
	}
	c.log.Info("credentials handed out over the control socket", "slot", creds.SlotLabel(name),
		"role", cr.RoleARN, "key", cr.MaskedKeyID())
	if c.opts.Handout != nil {
		pid, exe := peerProcess(conn)
		c.opts.Handout(name, cr, pid, exe)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, Credentials{
		AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken,
		Expiration: cr.Expiration.UTC().Format(creds.ExpirationFormat), RoleARN: cr.RoleARN, AccountID: cr.AccountID,
	})
}

// Credentials asks for the credentials of a loaded slot (profile "": the
// default slot).
func (c *Client) Credentials(ctx context.Context, profile string) (Credentials, error) {
	var cr Credentials
	return cr, c.do(ctx, http.MethodGet, "/v1/credentials?profile="+url.QueryEscape(profile), nil, &cr)
}
