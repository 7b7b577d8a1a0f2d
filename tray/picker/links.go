package picker

import (
	"crypto/subtle"
	"sync"
	"time"
)

// MaxLinks is how many one-time links may wait to be opened at a time; a
// new link beyond it drops the oldest one (never the newest: the link the
// user just asked for always works).
const MaxLinks = 32

// link is a one-time link waiting to be opened: its secret and its end.
type link struct {
	secret string
	until  time.Time
}

// links are the one-time links of a Server, oldest first.
type links struct {
	mu   sync.Mutex
	list []link
}

// add keeps a new link and returns its secret.
func (l *links) add(until time.Time) string {
	secret := randomToken()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) >= MaxLinks {
		l.list = append(l.list[:0], l.list[len(l.list)-MaxLinks+1:]...)
	}
	l.list = append(l.list, link{secret: secret, until: until})
	return secret
}

// take uses up the link of secret: true when it was waiting and has not
// ended at now. Ended links are forgotten on the way.
func (l *links) take(secret string, now time.Time) (ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.list[:0]
	for _, k := range l.list {
		switch {
		case now.After(k.until):
		case secret != "" && subtle.ConstantTimeCompare([]byte(k.secret), []byte(secret)) == 1:
			ok = true
		default:
			kept = append(kept, k)
		}
	}
	clear(l.list[len(kept):])
	l.list = kept
	return ok
}
