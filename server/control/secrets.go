package control

import (
	"crypto/tls"
	"net/http"

	"github.com/rolecall/rolecall/creds"
)

func (c *Server) tlsGet(w http.ResponseWriter, r *http.Request) {
	cert, _, err := c.opts.Secrets.LoadTLS()
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, TLSPair{Cert: string(cert), Active: c.opts.Listener.TLS()})
}

func (c *Server) tlsSave(w http.ResponseWriter, r *http.Request) {
	var p TLSPair
	if !readJSON(w, r, &p) {
		return
	}
	pair, err := tls.X509KeyPair([]byte(p.Cert), []byte(p.Key))
	if err != nil {
		writeError(w, http.StatusBadRequest, "certificate and key do not make a usable pair: "+err.Error())
		return
	}
	if err := c.opts.Secrets.SaveTLS([]byte(p.Cert), []byte(p.Key)); err != nil {
		writeError(w, http.StatusInternalServerError, "TLS pair not saved: "+err.Error())
		return
	}
	out := TLSPair{Cert: p.Cert, Saved: c.opts.Secrets.Persistent()}
	err = c.opts.Listener.SetCertificate(&pair)
	out.Active = err == nil
	switch {
	case !out.Saved:
		// Memory only: "saved" would be a lie the next start reveals.
		out.Note = creds.Say(creds.TLSNotSaved)
	case err != nil:
		out.Note = "saved; " + err.Error()
	default:
		out.Note = "saved and now served"
	}
	writeJSON(w, out)
}

func (c *Server) tlsDelete(w http.ResponseWriter, r *http.Request) {
	if err := c.opts.Secrets.DeleteTLS(); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	note := "deleted"
	if c.opts.Listener.TLS() {
		note = "deleted; the listener keeps serving HTTPS until rolecall restarts"
	}
	writeJSON(w, TLSPair{Note: note, Active: c.opts.Listener.TLS()})
}

func (c *Server) token(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, Token{Token: c.opts.Secrets.Token()})
}

func (c *Server) rotate(w http.ResponseWriter, r *http.Request) {
	tok, err := c.opts.Secrets.RotateToken()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	c.log.Info("bearer token rotated")
	writeJSON(w, Token{Token: tok})
}
