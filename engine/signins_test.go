package engine

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

func TestSignins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signins.json")
	log := slog.New(slog.DiscardHandler)
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	s := newSignins(path, log)
	if !s.Ends("corp", 8*time.Hour).IsZero() {
		t.Fatal("an end without a sign-in")
	}
	s.SignedIn("corp", t0)
	if got := newSignins(path, log).Ends("corp", 8*time.Hour); !got.Equal(t0.Add(8 * time.Hour)) {
		t.Errorf("after a restart: ends %v, want 17:00", got)
	}
	// The session ended after 4h: that is its length from now on.
	s.Ended("corp", t0.Add(4*time.Hour), 8*time.Hour)
	s.SignedIn("corp", t0.Add(5*time.Hour))
	if got := newSignins(path, log).Ends("corp", 8*time.Hour); !got.Equal(t0.Add(9 * time.Hour)) {
		t.Errorf("after a refused renewal at 4h: ends %v, want 5h+4h", got)
	}
	// Ending later than expected (asleep, offline) teaches nothing.
	s.Ended("corp", t0.Add(20*time.Hour), 8*time.Hour)
	s.SignedIn("corp", t0)
	if got := s.Ends("corp", 8*time.Hour); !got.Equal(t0.Add(4 * time.Hour)) {
		t.Errorf("ends %v, want the learned 4h", got)
	}
}
