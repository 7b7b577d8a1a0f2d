package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rolecall/rolecall/creds"
)

// Sessions is what the control socket needs from the SSO side.
type Sessions interface {
	// Login signs in, calling prompt with the URL and code to approve.
	Login(ctx context.Context, req LoginRequest, prompt func(LoginPrompt)) (LoginResult, error)
	// Logout signs out and returns the session's key.
	Logout(ctx context.Context, session string) (string, error)
	Roles(ctx context.Context) (Roles, error)
}

// LoginRequest asks for a login to a session (empty: the only one).
type LoginRequest struct {
	Session   string `json:"session,omitempty"`
	NoBrowser bool   `json:"no_browser,omitempty"`
}

// LoginPrompt is what the user approves in the browser.
type LoginPrompt struct {
	Session                 string `json:"session"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresAt               string `json:"expires_at"`
}

// LoginResult is a finished login.
type LoginResult struct {
	Session   string `json:"session"`
	ExpiresAt string `json:"expires_at"`
}

// loginEvent is one line of the streamed answer to POST /v1/login.
type loginEvent struct {
	Prompt *LoginPrompt `json:"prompt,omitempty"`
	Result *LoginResult `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// RoleInfo is one role `rolecall roles` lists.
type RoleInfo struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"` // "profile" or "discovered"
	Session     string `json:"session"`
	AccountID   string `json:"account_id,omitempty"`
	AccountName string `json:"account_name,omitempty"`
	RoleName    string `json:"role_name,omitempty"`
}

// Roles is every loadable role, and the sessions that need a login before
// their roles can be listed.
type Roles struct {
	Roles     []RoleInfo `json:"roles"`
	NeedLogin []string   `json:"need_login"`
}

// LogoutRequest names the session to end (empty: the only one).
type LogoutRequest struct {
	Session string `json:"session,omitempty"`
}

// LogoutResult names the session ended and the slots emptied with it.
type LogoutResult struct {
	Session  string   `json:"session"`
	Unloaded []string `json:"unloaded"`
}

// login streams JSON lines: a prompt as soon as the code is known, then
// the result or the error. The request's context is the login's: a client
// that goes away cancels it.
func (c *Control) login(w http.ResponseWriter, r *http.Request) {
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
	res, err := c.opts.Sessions.Login(r.Context(), req, func(p LoginPrompt) { send(loginEvent{Prompt: &p}) })
	if err != nil {
		send(loginEvent{Error: err.Error()})
		return
	}
	send(loginEvent{Result: &res})
}

func (c *Control) logout(w http.ResponseWriter, r *http.Request) {
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
	st := c.opts.Manager.Snapshot()
	slots := st.Named
	if st.Default != nil {
		slots = append([]creds.Slot{*st.Default}, slots...)
	}
	for _, s := range slots {
		if s.Profile.Session == key && c.opts.Manager.Unload(s.Name) == nil {
			out.Unloaded = append(out.Unloaded, NewSlotInfo(s).Slot)
		}
	}
	writeJSON(w, out)
}

func (c *Control) roles(w http.ResponseWriter, r *http.Request) {
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
