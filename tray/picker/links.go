package picker

import (
	"crypto/subtle"
	"html"
	"sync"
	"time"
)

// MaxLinks is how many one-time links may wait to be opened at a time; a
// new link beyond it drops the oldest one (never the newest: the link the
// user just asked for always works).
const MaxLinks = 32

// link is a one-time link waiting to be opened: its secret, its end, and
// where it leads ("" for the picker's own page).
type link struct {
	secret string
	until  time.Time
	target string
}

// links are the one-time links of a Server, oldest first.
type links struct {
	mu   sync.Mutex
	list []link
}

// add keeps a new link and returns its secret.
func (l *links) add(until time.Time, target string) string {
	secret := randomToken()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) >= MaxLinks {
		l.list = append(l.list[:0], l.list[len(l.list)-MaxLinks+1:]...)
	}
	l.list = append(l.list, link{secret: secret, until: until, target: target})
	return secret
}

// take uses up the link of secret: ok when it was waiting and has not
// ended at now. Ended links are forgotten on the way.
func (l *links) take(secret string, now time.Time) (target string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.list[:0]
	for _, k := range l.list {
		switch {
		case now.After(k.until):
		case secret != "" && subtle.ConstantTimeCompare([]byte(k.secret), []byte(secret)) == 1:
			target, ok = k.target, true
		default:
			kept = append(kept, k)
		}
	}
	clear(l.list[len(kept):])
	l.list = kept
	return target, ok
}

// ForwardPage is the content of the private file a browser is started on
// to open link: the browser's command line, which other local users can
// read (/proc/*/cmdline), names only the file, and the file (mode 0600)
// forwards to the one-time link. The link itself checks that it is opened
// by the same user, once, in time.
func ForwardPage(link string) []byte {
	l := html.EscapeString(link)
	return []byte(`<!DOCTYPE html><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<meta http-equiv="refresh" content="0;url=` + l + `"><title>rolecall</title>` +
		`<p>Opening rolecall's page… <a href="` + l + `">continue</a></p>`)
}
