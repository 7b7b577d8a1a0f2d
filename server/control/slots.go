package control

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strconv"

	"github.com/rolecall/rolecall/creds"
)

func (c *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, Status{
		PID: os.Getpid(), Version: c.opts.Version, URL: c.opts.Listener.URL(),
		TokenFile: c.opts.TokenFile, TLS: c.opts.Listener.TLS(),
	})
}

func (c *Server) slots(w http.ResponseWriter, r *http.Request) {
	st := c.opts.Manager.Snapshot()
	out := []SlotInfo{}
	if st.Default != nil {
		out = append(out, NewSlotInfo(*st.Default))
	}
	for _, s := range st.Named {
		out = append(out, NewSlotInfo(s))
	}
	writeJSON(w, out)
}

func (c *Server) load(w http.ResponseWriter, r *http.Request) {
	var req LoadRequest
	if !readJSON(w, r, &req) {
		return
	}
	switch {
	case req.Profile == "" && (req.AccountID == "" || req.RoleName == ""):
		writeError(w, http.StatusBadRequest, "name a profile, or both an account id and a role name")
		return
	case req.Profile != "" && (req.AccountID != "" || req.RoleName != ""):
		writeError(w, http.StatusBadRequest, "name a profile or an account and role, not both")
		return
	}
	p, ok := c.resolve(w, r, req)
	if !ok {
		return
	}
	slot := creds.DefaultSlot
	if req.Slot {
		slot = p.Name
	}
	s, err := c.opts.Manager.Load(r.Context(), slot, p)
	if err != nil {
		status, msg := http.StatusBadGateway, err.Error()
		switch {
		case errors.Is(err, creds.ErrLoginRequired):
			status, msg = http.StatusForbidden, creds.Say(creds.SessionEnded)
			if p.Session != "" {
				msg = creds.Say(creds.LoginFor, err.Error(), p.Session)
			}
		case errors.Is(err, creds.ErrPermanent):
			status, msg = http.StatusConflict, creds.Advice(slot, err)
		}
		writeError(w, status, msg)
		return
	}
	out := NewSlotInfo(s)
	if c.opts.Save != nil {
		if err := c.opts.Save(slot); err != nil {
			out.NotSaved = err.Error()
		}
	}
	writeJSON(w, out)
}

// resolve names the profile of req, or answers why not (404, or 403
// when its session needs a login).
func (c *Server) resolve(w http.ResponseWriter, r *http.Request, req LoadRequest) (creds.Profile, bool) {
	p, err := c.opts.Resolve(r.Context(), req)
	if err != nil {
		status := http.StatusNotFound
		if errors.Is(err, creds.ErrLoginRequired) {
			status = http.StatusForbidden
		}
		writeError(w, status, err.Error())
		return creds.Profile{}, false
	}
	return p, true
}

func (c *Server) unload(w http.ResponseWriter, r *http.Request) {
	var req UnloadRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := c.opts.Manager.Unload(req.Profile); err != nil {
		status, msg := http.StatusInternalServerError, creds.Advice(req.Profile, err)
		switch {
		case errors.Is(err, creds.ErrNoSuchSlot):
			// Not loaded: say which are, rather than advise loading it.
			var loaded []string
			for _, s := range c.opts.Manager.Snapshot().Named {
				loaded = append(loaded, strconv.Quote(s.Name))
			}
			status, msg = http.StatusNotFound, creds.Say(creds.NotLoaded, req.Profile, creds.List(loaded))
			if len(loaded) == 0 {
				msg = creds.Say(creds.NotLoadedNone, req.Profile)
			}
		case errors.Is(err, creds.ErrNothingLoaded):
			status, msg = http.StatusNotFound, creds.Say(creds.DefaultNotLoaded)
		}
		writeError(w, status, msg)
		return
	}
	writeJSON(w, struct{}{})
}

// env answers the URL of a slot with the token and the slot's region. A
// named slot need not be loaded (its first request loads it): a name the
// resolver knows is enough, and its region comes from there.
func (c *Server) env(w http.ResponseWriter, r *http.Request) {
	e := Env{FullURI: c.opts.Listener.URL(), TokenFile: c.opts.TokenFile, Token: c.opts.Secrets.Token(), IMDS: c.opts.IMDS}
	p := r.URL.Query().Get("profile")
	if s, ok := c.opts.Manager.Lookup(cmp.Or(p, creds.DefaultSlot)); ok {
		e.Region = s.Profile.Region
	} else if p != "" {
		prof, ok := c.resolve(w, r, LoadRequest{Profile: p})
		if !ok {
			return
		}
		e.Region = prof.Region
	}
	if p != "" {
		e.FullURI += "slot/" + url.PathEscape(p)
	}
	writeJSON(w, e)
}
