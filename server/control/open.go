package control

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
)

// open shows a sign-in URL in the user's browser (`rolecall console`): the
// CLI hands it over this socket instead of starting a browser with it on
// a command line other users can read. Only the user running rolecall may
// ask (like the credentials route), and only for https, or http to the
// loopback (a local fake in tests).
func (c *Server) open(w http.ResponseWriter, r *http.Request) {
	conn, _ := r.Context().Value(connKey{}).(net.Conn)
	if uid, known := peerUID(conn); known && uid != os.Getuid() {
		writeError(w, http.StatusForbidden, "only the user running rolecall may open pages through it")
		return
	}
	var req OpenRequest
	if !readJSON(w, r, &req) {
		return
	}
	u, err := url.Parse(req.URL)
	if err != nil || !(u.Scheme == "https" && u.Host != "" || u.Scheme == "http" && loopbackHost(u.Hostname())) {
		writeError(w, http.StatusBadRequest, "only an https:// address (or http:// on this machine) is opened")
		return
	}
	if c.opts.Open == nil {
		writeError(w, http.StatusNotImplemented, "no browser here: run `rolecall console --print` and open the address yourself")
		return
	}
	if err := c.opts.Open(req.URL); err != nil {
		writeError(w, http.StatusBadGateway, "no browser could be opened ("+err.Error()+"): run `rolecall console --print` and open the address yourself")
		return
	}
	writeJSON(w, struct{}{})
}

func loopbackHost(h string) bool {
	ip := net.ParseIP(h)
	return h == "localhost" || ip != nil && ip.IsLoopback()
}

// Open asks the running rolecall to show u (a URL that carries a secret)
// in the user's browser; it returns once the browser was started.
func (c *Client) Open(ctx context.Context, u string) error {
	return c.do(ctx, http.MethodPost, "/v1/open", OpenRequest{URL: u}, nil)
}
