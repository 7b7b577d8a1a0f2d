package engine

import (
	"time"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/grants"
	"github.com/rolecall/rolecall/remote"
)

// openGrants reads the grants kept in the state dir. The store owns them;
// the listener checks secrets with it, the control channel adds, lists and
// revokes through it, and a change is told to the UI. The grants of
// `rolecall ssh` sessions are minted and ended by the leases, which count
// the sessions to each destination.
func (e *Engine) openGrants() (err error) {
	e.grants, err = grants.Open(e.cfg.StateDir, grants.Options{Log: e.log, OnChange: e.changes.notify})
	if err != nil {
		return err
	}
	e.sshLeases = remote.NewLeases(e.grants, e.log)
	return nil
}

// grantsFlushEvery is how often the grants' use counts are written while
// grants are in use: a crash loses at most that much of them.
const grantsFlushEvery = time.Minute

// keepGrants writes the grants' use counts now and then until Close.
func (e *Engine) keepGrants() {
	defer e.wg.Done()
	t := time.NewTicker(grantsFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := e.grants.Flush(); err != nil {
				e.log.Warn("the grants' use counts were not saved", "err", err)
			}
		case <-e.ctx.Done():
			return
		}
	}
}

// closeGrants writes the grants' use counts; the listener is closed.
func (e *Engine) closeGrants() {
	if e.grants == nil {
		return
	}
	if err := e.grants.Close(); err != nil {
		e.log.Warn("the grants' use counts were not saved", "err", err)
	}
}

// Grants lists the grants, active ones first.
func (e *Engine) Grants() []creds.Grant { return e.grants.List() }

// RevokeGrant ends grant name at once: its next request is refused.
func (e *Engine) RevokeGrant(name string) error {
	_, err := e.grants.Revoke(name)
	return err
}
