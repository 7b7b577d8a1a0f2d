package engine

import (
	"os"
	"time"

	"github.com/rolecall/rolecall/creds"
)

// awsConfigPoll is how often the AWS config file is looked at for changes.
const awsConfigPoll = 10 * time.Second

// watchAWSConfig retries the slots that wait for a change (failed for
// good, profile gone) when the AWS config file changes from last.
func (e *Engine) watchAWSConfig(path string, every time.Duration, last stamp) {
	defer e.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-e.ctx.Done():
			return
		}
		// An `aws login` (or the AWS CLI's refresh) while rolecall runs:
		// a login session that needed a login is fetched again.
		if e.ic != nil {
			e.ic.CheckLoginSessions(e.ctx)
		}
		if now := fileStamp(path); now != last {
			last = now
			e.log.Info("AWS config changed: retrying the slots that wait for it", "file", path)
			e.manager.RefreshWaiting(func(creds.Profile) bool { return true })
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
