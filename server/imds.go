package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// IMDS header names.
const (
	imdsTokenHeader = "X-Aws-Ec2-Metadata-Token"
	imdsTTLHeader   = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	imdsMaxTTL      = 21600

	imdsCredentialsPath = "/latest/meta-data/iam/security-credentials/"
)

// imdsTokens issues and checks IMDSv2 session tokens: the expiry, signed
// with a key that lives only in this process.
type imdsTokens struct {
	key []byte
	now func() time.Time
}

func newIMDSTokens(now func() time.Time) *imdsTokens {
	key := make([]byte, 32)
	rand.Read(key)
	return &imdsTokens{key: key, now: now}
}

func (t *imdsTokens) issue(ttl time.Duration) string {
	var b [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.now().Add(ttl).Unix()))
	mac := hmac.New(sha256.New, t.key)
	mac.Write(b[:8])
	mac.Sum(b[8:8])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (t *imdsTokens) valid(tok string) bool {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 8+sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, t.key)
	mac.Write(b[:8])
	if !hmac.Equal(mac.Sum(nil), b[8:]) {
		return false
	}
	return t.now().Unix() < int64(binary.BigEndian.Uint64(b[:8]))
}

func (s *Server) imdsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("PUT /latest/api/token", s.imdsToken)
	mux.HandleFunc("GET /latest/meta-data/iam/security-credentials/{$}", s.imdsAuth(s.imdsRoleList))
	mux.HandleFunc("GET "+imdsCredentialsPath+"{name}", s.imdsAuth(s.imdsCredentials))
	mux.HandleFunc("GET /latest/meta-data/iam/info", s.imdsAuth(s.imdsInfo))
	mux.HandleFunc("GET /latest/dynamic/instance-identity/document", s.imdsAuth(s.imdsDocument))
}

func (s *Server) imdsToken(w http.ResponseWriter, r *http.Request) {
	if _, ok := r.Header["X-Forwarded-For"]; ok {
		// As EC2 does: a token request that went through a proxy is
		// refused, so that a misconfigured proxy cannot hand tokens out.
		writeError(w, http.StatusForbidden, "IMDS token requests through a proxy (X-Forwarded-For) are refused: call rolecall directly")
		return
	}
	raw := r.Header.Get(imdsTTLHeader)
	ttl, err := strconv.Atoi(raw)
	if err != nil || ttl < 1 || ttl > imdsMaxTTL {
		writeError(w, http.StatusBadRequest, "header "+imdsTTLHeader+" must be a number of seconds from 1 to 21600, got "+strconv.Quote(raw))
		return
	}
	w.Header().Set(imdsTTLHeader, strconv.Itoa(ttl))
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(s.imds.issue(time.Duration(ttl) * time.Second)))
}

// imdsAuth requires a valid IMDSv2 session token, unless IMDSv1 is allowed
// and none was sent.
func (s *Server) imdsAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get(imdsTokenHeader)
		switch {
		case tok == "" && s.opts.IMDSv1:
		case tok == "":
			writeError(w, http.StatusUnauthorized, "IMDSv1 is refused: get a session token with PUT /latest/api/token first (every current SDK does), or allow IMDSv1 in the settings")
			return
		case !s.imds.valid(tok):
			writeError(w, http.StatusUnauthorized, "IMDS session token is invalid or expired: request a new one with PUT /latest/api/token")
			return
		}
		h(w, r)
	}
}

// imdsRoleList names the default slot's profile, the "instance role".
func (s *Server) imdsRoleList(w http.ResponseWriter, r *http.Request) {
	slot, ok := s.opts.Source.Lookup(creds.DefaultSlot)
	if !ok {
		s.writeSourceError(w, creds.DefaultSlot, creds.ErrNothingLoaded)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(imdsRoleName(slot)))
}

// imdsRoleName is a slot's name as an IMDS role: the profile name with the
// "/" of discovered roles replaced, since it becomes a path segment.
func imdsRoleName(s creds.Slot) string {
	return strings.ReplaceAll(s.Profile.Name, "/", "+")
}

// imdsSlot finds the slot behind an IMDS role name: the default slot's,
// else a named slot's.
func (s *Server) imdsSlot(role string) (string, bool) {
	if role == "" || strings.Contains(role, "/") {
		return "", false
	}
	if d, ok := s.opts.Source.Lookup(creds.DefaultSlot); ok && imdsRoleName(d) == role {
		return creds.DefaultSlot, true
	}
	if _, ok := s.opts.Source.Lookup(role); ok {
		return role, true
	}
	if name := strings.ReplaceAll(role, "+", "/"); name != role {
		if _, ok := s.opts.Source.Lookup(name); ok {
			return name, true
		}
	}
	return "", false
}

func (s *Server) imdsCredentials(w http.ResponseWriter, r *http.Request) {
	// The name is read from the path, not r.PathValue: the listener
	// dispatches with mux.Handler, which sets no path values, and an empty
	// name would be the default slot's.
	role := strings.TrimPrefix(r.URL.Path, imdsCredentialsPath)
	name, ok := s.imdsSlot(role)
	if !ok {
		writeError(w, http.StatusNotFound, "no loaded role named "+strconv.Quote(role)+": list them at /latest/meta-data/iam/security-credentials/")
		return
	}
	slot, err := s.opts.Source.GetSlot(r.Context(), name)
	if err != nil {
		s.writeSourceError(w, name, err)
		return
	}
	c := &slot.Creds
	b, _ := json.Marshal(imdsCredentialsBody{
		Code:            "Success",
		LastUpdated:     c.Issued.UTC().Format(creds.ExpirationFormat),
		Type:            "AWS-HMAC",
		credentialsBody: newCredentialsBody(c),
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
	s.opts.Audit.record(r, slot, "")
}

// imdsCredentialsBody is the container body with IMDS's three fields in
// front.
type imdsCredentialsBody struct {
	Code        string `json:"Code"`
	LastUpdated string `json:"LastUpdated"`
	Type        string `json:"Type"`
	credentialsBody
}

func (s *Server) imdsInfo(w http.ResponseWriter, r *http.Request) {
	slot, ok := s.opts.Source.Lookup(creds.DefaultSlot)
	if !ok {
		s.writeSourceError(w, creds.DefaultSlot, creds.ErrNothingLoaded)
		return
	}
	b, _ := json.Marshal(map[string]string{
		"Code":               "Success",
		"LastUpdated":        slot.Creds.Issued.UTC().Format(creds.ExpirationFormat),
		"InstanceProfileArn": slot.Creds.RoleARN,
		"InstanceProfileId":  "rolecall",
	})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *Server) imdsDocument(w http.ResponseWriter, r *http.Request) {
	if s.opts.Region == "" {
		writeError(w, http.StatusNotFound, "no region known to rolecall: set AWS_REGION for your program")
		return
	}
	slot, _ := s.opts.Source.Lookup(creds.DefaultSlot)
	b, _ := json.Marshal(map[string]string{
		"region":           s.opts.Region,
		"accountId":        slot.Creds.AccountID,
		"instanceId":       "rolecall",
		"architecture":     "x86_64",
		"availabilityZone": s.opts.Region + "a",
	})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
