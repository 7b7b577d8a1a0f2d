package engine

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// signins owns when each SSO session was signed in to, and what was
// learned of Identity Center's session length. A renewable session ends a
// fixed time after sign-in (sso_session_duration, 8h by default); when a
// session ends earlier than that, the shorter length is learned. Both are
// kept in the state dir across restarts.
type signins struct {
	path string
	log  *slog.Logger

	mu    sync.Mutex
	times signinState
}

type signinState struct {
	At      map[string]time.Time     `json:"signed_in_at"`
	Learned map[string]time.Duration `json:"learned_length"`
}

func newSignins(path string, log *slog.Logger) *signins {
	s := &signins{path: path, log: log, times: signinState{At: map[string]time.Time{}, Learned: map[string]time.Duration{}}}
	if b, err := os.ReadFile(path); err == nil {
		var saved signinState
		if err := json.Unmarshal(b, &saved); err != nil {
			log.Warn("sign-in times unreadable: starting afresh", "file", path, "err", err)
		} else {
			for k, v := range saved.At {
				s.times.At[k] = v
			}
			for k, v := range saved.Learned {
				s.times.Learned[k] = v
			}
		}
	}
	return s
}

// SignedIn records a sign-in to session at t.
func (s *signins) SignedIn(session string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times.At[session] = t
	s.saveLocked()
}

// Ended records that session ended at t (a renewal was refused, a login
// is required): when that is before the expected end, the session's length
// is corrected to what it really was.
func (s *signins) Ended(session string, t time.Time, length time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.times.At[session]
	if !ok {
		return
	}
	delete(s.times.At, session)
	if l := t.Sub(at).Round(time.Minute); l > 0 && l < s.lengthLocked(session, length) {
		s.times.Learned[session] = l
		s.log.Info("sso session ended before sso_session_duration: using the shorter length", "session", session, "length", l)
	}
	s.saveLocked()
}

// Ends is when Identity Center ends session, signed in to at a known time,
// for a configured length; zero when the sign-in time is unknown.
func (s *signins) Ends(session string, length time.Duration) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.times.At[session]
	if !ok {
		return time.Time{}
	}
	return at.Add(s.lengthLocked(session, length))
}

func (s *signins) lengthLocked(session string, length time.Duration) time.Duration {
	if l, ok := s.times.Learned[session]; ok && l < length {
		return l
	}
	return length
}

func (s *signins) saveLocked() {
	b, _ := json.Marshal(s.times)
	if err := replaceFile(s.path, b); err != nil {
		s.log.Warn("sign-in times not saved", "file", s.path, "err", err)
	}
}

// replaceFile replaces path with data (mode 0600) through a rename.
func replaceFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
