package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rolecall/rolecall/creds"
)

// Handler returns the listener's routes with every guard in front of them.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	if s.opts.IMDS {
		s.imdsRoutes(mux)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := s.guard(r); f != nil {
			if f.peer {
				w.Header()["Connection"] = connClose
				http.NewResponseController(w).SetWriteDeadline(time.Now().Add(refusedWriteTimeout))
			}
			writeError(w, f.status, f.msg)
			return
		}
		// The credential routes are the hot path: matched here without
		// the mux. HEAD is answered like GET, as the mux would.
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if r.URL.Path == "/" {
				s.credentials(w, r, creds.DefaultSlot)
				return
			}
			if strings.HasPrefix(r.URL.Path, "/slot/") {
				s.credentials(w, r, slotName(r))
				return
			}
			if id, ok := strings.CutPrefix(r.URL.Path, credentialsV2); ok {
				s.grantCredentials(w, r, id)
				return
			}
		}
		h, pattern := mux.Handler(r)
		if pattern == "" {
			writeError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path+": credentials are at GET / (default slot), GET /slot/<profile> and GET /v2/credentials/<grant ID>")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// slotName is the URL-unescaped rest of /slot/<name>. It is read from the
// escaped path because a profile name may itself hold "/" (discovered roles
// are "<account>/<role>"), written %2F.
func slotName(r *http.Request) string {
	raw := r.URL.RawPath
	if raw == "" {
		return strings.TrimPrefix(r.URL.Path, "/slot/")
	}
	n, err := url.PathUnescape(strings.TrimPrefix(raw, "/slot/"))
	if err != nil {
		return strings.TrimPrefix(r.URL.Path, "/slot/")
	}
	return n
}

// slotNameOK: name can be a profile name: no control characters, and no
// empty, "." or ".." segment between slashes (which a client or proxy
// would read as a path of its own). Bytes that are not UTF-8 (a Latin-1
// name in the AWS config) are names too.
func slotNameOK(name string) bool {
	for _, c := range name {
		if unicode.IsControl(c) {
			return false
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = jsonType
	w.Write([]byte(`{"status":"ok"}`))
}

// Header values shared by every answer; net/http only reads them.
var (
	jsonType  = []string{"application/json"}
	noStore   = []string{"no-store"}
	connClose = []string{"close"}
)

// refusedWriteTimeout bounds the answer to a refused connection: another
// user must not hold a goroutine by not reading it.
const refusedWriteTimeout = 5 * time.Second

// credentials serves GET / and GET /slot/{name}.
func (s *Server) credentials(w http.ResponseWriter, r *http.Request, name string) {
	tok, f := s.authorized(r)
	if f != nil {
		if f.status == http.StatusForbidden {
			// Not the user's token: a grant's secret reads its slot.
			s.grantAuthorized(w, r, tok, name)
			return
		}
		writeError(w, f.status, f.msg)
		return
	}
	if name == "" && r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, "empty slot name: use GET /slot/<profile>")
		return
	}
	if name != "" && !slotNameOK(name) {
		// A path trick ("..", "a/../b", control characters) is no profile
		// name: answered here, it costs nothing upstream.
		writeError(w, http.StatusNotFound, "not a slot name: use GET /slot/<profile> with the profile name URL-escaped")
		return
	}
	slot, err := s.opts.Source.GetSlot(r.Context(), name)
	if err != nil {
		s.writeSourceError(w, name, err)
		return
	}
	s.handOut(w, r, slot, "")
}

// handOut writes the credentials of slot and audits the hand-out (to the
// holder of grant, or "" for the user's token).
func (s *Server) handOut(w http.ResponseWriter, r *http.Request, slot *creds.Slot, grant string) {
	cb := s.body(slot.Name, &slot.Creds)
	// Two headers: Cache-Control would add nothing to an answer to a
	// request with Authorization, which no shared cache stores.
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = cb.length
	w.Write(cb.body)
	s.opts.Audit.record(r, slot, grant)
}

// cachedBody is the encoded answer for one set of credentials: encoding
// happens once per refresh, not once per request.
type cachedBody struct {
	slot   string
	keyID  string
	exp    time.Time
	body   []byte
	length []string // Content-Length header value
}

func (s *Server) body(slot string, c *creds.Credentials) *cachedBody {
	// The slot asked last, without hashing its name.
	if cb := s.lastBody.Load(); cb != nil && cb.slot == slot && cb.keyID == c.AccessKeyID && cb.exp.Equal(c.Expiration) {
		return cb
	}
	if v, ok := s.bodies.Load(slot); ok {
		cb := v.(*cachedBody)
		if cb.keyID == c.AccessKeyID && cb.exp.Equal(c.Expiration) {
			s.lastBody.Store(cb)
			return cb
		}
	}
	b, _ := json.Marshal(newCredentialsBody(c))
	cb := &cachedBody{slot: slot, keyID: c.AccessKeyID, exp: c.Expiration, body: b, length: []string{strconv.Itoa(len(b))}}
	s.bodies.Store(slot, cb)
	s.lastBody.Store(cb)
	return cb
}

// credentialsBody is the container-credentials answer (SPEC §3).
type credentialsBody struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
	RoleArn         string `json:"RoleArn"`
	AccountID       string `json:"AccountId"`
}

func newCredentialsBody(c *creds.Credentials) credentialsBody {
	return credentialsBody{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		Token:           c.SessionToken,
		Expiration:      c.Expiration.UTC().Format(creds.ExpirationFormat),
		RoleArn:         c.RoleARN,
		AccountID:       c.AccountID,
	}
}

// writeSourceError maps the manager's errors to status and advice.
func (s *Server) writeSourceError(w http.ResponseWriter, slot string, err error) {
	status, msg := SourceErrorMessage(slot, err)
	if status >= 500 {
		s.log.Warn("credentials unavailable", "slot", creds.SlotLabel(slot), "err", err)
	}
	writeError(w, status, msg)
}

// SourceErrorMessage is the status and the one-line message (creds.Advice)
// for an error from the credential manager.
func SourceErrorMessage(slot string, err error) (int, string) {
	switch {
	case errors.Is(err, creds.ErrNothingLoaded), errors.Is(err, creds.ErrNoSuchSlot):
		return http.StatusNotFound, creds.Advice(slot, err)
	case errors.Is(err, creds.ErrLoginRequired):
		return http.StatusForbidden, creds.Advice(slot, err)
	case errors.Is(err, creds.ErrPermanent):
		// Not 503: retrying cannot help until the config changes.
		return http.StatusConflict, creds.Advice(slot, err)
	default:
		return http.StatusServiceUnavailable, creds.Advice(slot, err)
	}
}

// errorBody is every error answer: code is the status as a string, which the
// Go SDK decodes as a string.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(errorBody{Code: strconv.Itoa(status), Message: msg})
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	w.Write(b)
}
