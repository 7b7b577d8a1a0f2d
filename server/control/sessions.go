package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rolecall/rolecall/creds"
)

// login streams JSON lines: a prompt as soon as the code is known, then
// the result or the error. A client that goes away cancels the login, and
// so does Close.
func (c *Server) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if !readJSON(w, r, &req) {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(ev loginEvent) {
		enc.Encode(ev)
		if flusher != nil {
			flusher.Flush()
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if c.closing != nil { // the app stopping ends the login too
		defer context.AfterFunc(c.closing, cancel)()
	}
	res, err := c.opts.Sessions.Login(ctx, req, func(p LoginPrompt) { send(loginEvent{Prompt: &p}) })
	if err != nil {
		send(loginEvent{Error: err.Error()})
		return
	}
	send(loginEvent{Result: &res})
}

// signinCode takes the code of a cross-device sign-in; the sign-in's own
// stream (login) answers with its outcome.
func (c *Server) signinCode(w http.ResponseWriter, r *http.Request) {
	var req SigninCodeRequest
	if !readJSON(w, r, &req) {
		return
	}
	if c.opts.SigninCode == nil {
		writeError(w, http.StatusNotFound, "this rolecall does not sign in to `aws login` sessions")
		return
	}
	if err := c.opts.SigninCode(req.Profile, req.Code); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, struct{}{})
}

func (c *Server) logout(w http.ResponseWriter, r *http.Request) {
	var req LogoutRequest
	if !readJSON(w, r, &req) {
		return
	}
	key, err := c.opts.Sessions.Logout(r.Context(), req.Session)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := LogoutResult{Session: key, Unloaded: []string{}}
	for _, name := range c.opts.Manager.SignOut(key) {
		out.Unloaded = append(out.Unloaded, NewSlotInfo(creds.Slot{Name: name}).Slot)
	}
	writeJSON(w, out)
}

func (c *Server) roles(w http.ResponseWriter, r *http.Request) {
	roles, err := c.opts.Sessions.Roles(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	if roles.Roles == nil {
		roles.Roles = []RoleInfo{}
	}
	if roles.NeedLogin == nil {
		roles.NeedLogin = []string{}
	}
	writeJSON(w, roles)
}

func (c *Server) sessions(w http.ResponseWriter, r *http.Request) {
	out, err := c.opts.Sessions.Status(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	if out == nil {
		out = []SessionInfo{}
	}
	writeJSON(w, out)
}

// Sessions reports the SSO sessions as the running process holds them.
func (c *Client) Sessions(ctx context.Context) ([]SessionInfo, error) {
	var out []SessionInfo
	return out, c.do(ctx, http.MethodGet, "/v1/sessions", nil, &out)
}

// Login signs in through the running process, calling prompt with the URL
// and code to approve.
func (c *Client) Login(ctx context.Context, req LoginRequest, prompt func(LoginPrompt)) (LoginResult, error) {
	resp, err := c.stream(ctx, "/v1/login", req)
	if err != nil {
		return LoginResult{}, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev loginEvent
		if err := dec.Decode(&ev); err != nil {
			return LoginResult{}, errors.New("the running rolecall ended the login without an answer")
		}
		switch {
		case ev.Prompt != nil:
			prompt(*ev.Prompt)
		case ev.Result != nil:
			return *ev.Result, nil
		case ev.Error != "":
			return LoginResult{}, errors.New(ev.Error)
		}
	}
}

// SigninCode hands the code the sign-in page showed to the cross-device
// sign-in of profile that Login streams.
func (c *Client) SigninCode(ctx context.Context, profile, code string) error {
	return c.do(ctx, http.MethodPost, "/v1/login/code", SigninCodeRequest{Profile: profile, Code: code}, nil)
}

// Logout ends a session and empties its slots.
func (c *Client) Logout(ctx context.Context, session string) (LogoutResult, error) {
	var out LogoutResult
	return out, c.do(ctx, http.MethodPost, "/v1/logout", LogoutRequest{Session: session}, &out)
}

// Roles lists every loadable role.
func (c *Client) Roles(ctx context.Context) (Roles, error) {
	var out Roles
	return out, c.do(ctx, http.MethodGet, "/v1/roles", nil, &out)
}
