package sso

import (
	"context"
	"errors"
	"fmt"
	"time"

	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"

	"github.com/rolecall/rolecall/creds"
)

// outage is what a session knows of Identity Center failing: its role
// credential calls failed without an answer, with a 5xx or throttled, so
// the session's other slots do not ask again before until. Guarded by
// Client.mu.
type outage struct {
	failures int
	until    time.Time
	last     error
}

// gateWait is how long a session's calls pause after failure n (1-based):
// 5 s doubling up to a minute, so that a session recovers within a minute
// of the service, while its slots' own backoff may grow longer.
func gateWait(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// gateOpen says whether a role credential call of s may go out: not while
// Identity Center failed moments ago for the session; the slot's own
// retry (the manager's) comes back later.
func (c *Client) gateOpen(s *Session) error {
	st := c.state(s.Key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.down.failures == 0 || !c.opts.Now().Before(st.down.until) {
		return nil
	}
	return &creds.Paused{Until: st.down.until,
		Err: fmt.Errorf("IAM Identity Center failed moments ago for session %s: %w", s.Key, st.down.last)}
}

// noteAnswer records how a role credential call of s went: a failure of
// the service closes the session's gate for a while, any answer of it
// opens it.
func (c *Client) noteAnswer(s *Session, err error) {
	var throttled *ssotypes.TooManyRequestsException
	failed := err != nil && !errors.Is(err, context.Canceled) && (transient(err) || errors.As(err, &throttled))
	st := c.state(s.Key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !failed {
		st.down = outage{}
		return
	}
	st.down.failures++
	st.down.until = c.opts.Now().Add(gateWait(st.down.failures))
	st.down.last = err
}
