package fakeidc

import (
	"encoding/json"
	"net/http"
	"net/url"
)

// federation is the AWS sign-in federation endpoint
// (signin.aws.amazon.com/federation): getSigninToken trades role session
// credentials this fake handed out for a sign-in token; login takes the
// token and redirects to the Destination, as the console sign-in does.
func (s *Server) federation(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch q.Get("Action") {
	case "getSigninToken":
		s.count("GetSigninToken")
		var sess struct {
			ID    string `json:"sessionId"`
			Key   string `json:"sessionKey"`
			Token string `json:"sessionToken"`
		}
		if err := json.Unmarshal([]byte(q.Get("Session")), &sess); err != nil {
			http.Error(w, "Session must be JSON with sessionId, sessionKey and sessionToken", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		c, ok := s.issued[sess.ID]
		if !ok || c.SecretAccessKey != sess.Key || c.SessionToken != sess.Token || !s.Now().Before(c.Expiration) {
			http.Error(w, "invalid or expired session credentials", http.StatusBadRequest)
			return
		}
		tok := "signin-" + randomID(24)
		s.signin[tok] = sess.ID
		writeJSON(w, map[string]string{"SigninToken": tok})
	case "login":
		s.count("FederationLogin")
		s.mu.Lock()
		_, ok := s.signin[q.Get("SigninToken")]
		s.mu.Unlock()
		dest, err := url.Parse(q.Get("Destination"))
		if !ok || err != nil || dest.Scheme != "https" {
			http.Error(w, "invalid SigninToken or Destination", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, dest.String(), http.StatusFound)
	default:
		http.Error(w, "unknown Action", http.StatusBadRequest)
	}
}
