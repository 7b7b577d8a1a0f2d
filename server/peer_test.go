package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRefusalsLoggedOncePerMinute(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var l refusalLog
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		l.note(t0.Add(time.Duration(i)*time.Millisecond), log, "refused", "uid", 65534)
	}
	if got := strings.Count(buf.String(), "\n"); got != 1 {
		t.Fatalf("%d lines for 1000 refusals in one second, want 1:\n%s", got, buf.String())
	}
	l.note(t0.Add(time.Minute+time.Second), log, "refused", "uid", 65534)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "refused_since_last_line=1000") || !strings.Contains(lines[1], "refused_total=1001") {
		t.Fatalf("after a minute:\n%s", buf.String())
	}
	if l.count.Load() != 1001 {
		t.Errorf("count = %d", l.count.Load())
	}
}
