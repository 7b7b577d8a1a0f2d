package server

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/rolecall/rolecall/creds"
)

// ContainerHost is the address at which containers reach rolecall, as ECS
// tasks reach the agent: the host set-up (`rolecall containers on`) DNATs
// 169.254.170.2:80 arriving on the container interfaces to the loopback
// listener.
const ContainerHost = "169.254.170.2"

// credentialsV2 is the ECS agent's route prefix: /v2/credentials/{id},
// where the credential ID is a grant's secret.
const credentialsV2 = "/v2/credentials/"

// fromContainer reports whether a connection came through the host
// set-up's DNAT: it reached the loopback listener from an address that is
// not loopback, which the kernel routes only for interfaces with
// route_localnet, that is, the ones the set-up names.
func fromContainer(local, remote net.Addr) bool {
	l, lok := local.(*net.TCPAddr)
	r, rok := remote.(*net.TCPAddr)
	return lok && rok && l.IP.IsLoopback() && !r.IP.IsLoopback()
}

// guardContainer is the guard of a connection from a container. Such a
// connection reaches one route, GET /v2/credentials/{id}, and nothing
// else (not /, no slot, not /healthz, not IMDS).
//
// The Host header must name 169.254.170.2, as the SDKs send it: a page
// in a browser in the container, served from a name rebound to that
// address, names its own host and is refused (DNS rebinding), and so is
// a request carrying browser headers. The peer check has run before: a
// process of this host (any user can connect to loopback from a
// non-loopback source address of its own) has its socket in the host's
// table and is judged by its user; a container's socket lives in its own
// network namespace, which that table cannot see. A container reaches the
// route only through the interfaces the user named at set-up; the
// credential ID (a grant's 256-bit secret) is what authorises it, as at
// the ECS agent.
func (s *Server) guardContainer(r *http.Request) *refusal {
	host := r.Host
	if h, port, err := net.SplitHostPort(host); err == nil && port == "80" {
		host = h
	}
	if host != ContainerHost {
		return &refusal{status: http.StatusForbidden, msg: "Host " + strconv.Quote(r.Host) + " is not allowed from a container: use http://" + ContainerHost + "/v2/credentials/<ID>"}
	}
	if h := browserHeader(r.Header); h != "" {
		return &refusal{status: http.StatusForbidden, msg: "request carries the browser header " + h + ": web pages may not read credentials"}
	}
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !strings.HasPrefix(r.URL.Path, credentialsV2) {
		return &refusal{status: http.StatusForbidden, msg: creds.Say(creds.ContainerRoute)}
	}
	return nil
}

// grantCredentials serves GET /v2/credentials/{id}: the credentials of
// the grant whose secret is id, in the ECS agent's answer; no token.
func (s *Server) grantCredentials(w http.ResponseWriter, r *http.Request, id string) {
	if s.opts.Grants == nil {
		writeError(w, http.StatusForbidden, creds.Say(creds.GrantUnknown))
		return
	}
	g, use, err := s.opts.Grants.Check(id)
	if err != nil {
		s.grantRefusals.note(s.opts.Now(), s.log, "grant refused", "grant", g.Name, "err", err)
		writeError(w, http.StatusForbidden, creds.GrantAdvice(g, err))
		return
	}
	s.serveGrant(w, r, g, use)
}

// grantAuthorized serves a request for slot name whose Authorization is
// not the user's token: it may be a grant's secret, which reads its own
// slot only.
func (s *Server) grantAuthorized(w http.ResponseWriter, r *http.Request, tok, name string) {
	if s.opts.Grants == nil {
		writeError(w, http.StatusForbidden, creds.Say(creds.WrongToken))
		return
	}
	g, use, err := s.opts.Grants.Check(tok)
	switch {
	case err == nil:
	case g.Name == "":
		writeError(w, http.StatusForbidden, creds.Say(creds.WrongToken))
		return
	default:
		s.grantRefusals.note(s.opts.Now(), s.log, "grant refused", "grant", g.Name, "err", err)
		writeError(w, http.StatusForbidden, creds.GrantAdvice(g, err))
		return
	}
	if name != g.Slot || r.URL.Path == "/" {
		s.grantRefusals.note(s.opts.Now(), s.log, "grant refused: another slot asked for", "grant", g.Name, "slot", creds.SlotLabel(name))
		asked := creds.SlotLabel(name)
		if r.URL.Path == "/" {
			asked = "the default slot (GET /)"
		}
		writeError(w, http.StatusForbidden, creds.Say(creds.GrantScope, g.Name, g.Slot, asked))
		return
	}
	s.serveGrant(w, r, g, use)
}

// serveGrant hands out the credentials of grant g's slot, loading the
// slot when it is not loaded, and counts the hand-out.
func (s *Server) serveGrant(w http.ResponseWriter, r *http.Request, g creds.Grant, use creds.GrantUse) {
	var slot *creds.Slot
	var err error
	if s.granted != nil {
		slot, err = s.granted.GetGranted(r.Context(), g.Slot)
	} else {
		slot, err = s.opts.Source.GetSlot(r.Context(), g.Slot)
	}
	if err != nil {
		s.writeSourceError(w, g.Slot, err)
		return
	}
	if g.Definition != "" && slot.Profile.Definition != "" && slot.Profile.Definition != g.Definition {
		// The profile was edited since: the grant was for the role
		// the name named then, never for whatever it names now.
		s.grantRefusals.note(s.opts.Now(), s.log, "grant refused: its profile names another role now", "grant", g.Name, "slot", g.Slot)
		writeError(w, http.StatusForbidden, creds.Say(creds.GrantRoleChanged, g.Name, g.Slot, g.Slot))
		return
	}
	if !g.Expires.IsZero() && g.Expires.Before(slot.Creds.Expiration) {
		// Credentials handed out cannot be taken back: a grant that
		// ends first hands out credentials that say so, and the
		// client comes back (and is refused) when it ends.
		clamped := *slot
		clamped.Creds.Expiration = g.Expires
		b, _ := json.Marshal(newCredentialsBody(&clamped.Creds))
		w.Header()["Content-Type"] = jsonType
		w.Write(b)
		s.opts.Audit.record(r, slot, g.Name)
	} else {
		s.handOut(w, r, slot, g.Name)
	}
	use.Used(clientName(connFrom(r.Context())))
}

// clientName is how a grant's last client is shown: its executable where
// the audit found it, else a container's address; "" when unknown.
func clientName(ci *connInfo) string {
	if ci == nil {
		return ""
	}
	if _, exe := ci.process(); exe != "" {
		return exe
	}
	return ci.client
}
