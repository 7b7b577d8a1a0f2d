package main

import (
	"os"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// awsConfigPoll is how often the AWS config file is looked at for changes.
const awsConfigPoll = 10 * time.Second

// keepState saves state.json whenever the default slot or the recent
// roles change, until the app stops; a role that lands in the default slot
// counts as recently used. It starts after the engine restored
// the remembered default slot, so it never saves an empty one over it.
func (a *app) keepState() {
	defer a.wg.Done()
	events, stop := a.engine.manager.Subscribe()
	defer stop()
	used := ""
	for {
		var v remembered
		if d := a.engine.manager.Snapshot().Default; d != nil {
			v.Default = d.Profile.Name
			if d.State == creds.StateOK && d.Profile.Name != used {
				// A role put into the default slot by any means (menu,
				// `rolecall load`) is a recently used one.
				used = d.Profile.Name
				a.recent.Used(used)
			}
		}
		v.Recent = a.recent.List()
		if err := a.state.Save(v); err != nil {
			a.log.Warn("the default slot and recent roles were not saved; they are kept in memory", "err", err)
		}
		select {
		case <-events:
		case <-a.saveState:
		case <-a.ctx.Done():
			return
		}
	}
}

// watchAWSConfig retries the slots that wait for a change (failed for
// good, profile gone) when the AWS config file changes from last.
func (a *app) watchAWSConfig(path string, every time.Duration, last stamp) {
	defer a.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-a.ctx.Done():
			return
		}
		if now := fileStamp(path); now != last {
			last = now
			a.log.Info("AWS config changed: retrying the slots that wait for it", "file", path)
			a.engine.manager.RefreshWaiting(func(creds.Profile) bool { return true })
		}
	}
}

// stamp is what tells a changed file: size and modification time.
type stamp struct {
	size int64
	mod  time.Time
}

// fileStamp is the stamp of the file at path; zero when it is missing.
func fileStamp(path string) stamp {
	st, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{st.Size(), st.ModTime()}
}
