package tray

import (
	"errors"
	"strconv"

	"github.com/rolecall/rolecall/creds"
)

// failTitle is what a failed click was, by its kind.
var failTitle = map[ActionKind]creds.Text{
	ActLoad:         creds.FailLoad,
	ActLoadSlot:     creds.FailLoadSlot,
	ActUnload:       creds.FailUnload,
	ActPin:          creds.FailPin,
	ActUnpin:        creds.FailPin,
	ActLogin:        creds.FailLogin,
	ActLogout:       creds.FailLogout,
	ActCancelLogin:  creds.FailCancelLogin,
	ActCopyEnv:      creds.FailCopy,
	ActCopyIDE:      creds.FailCopy,
	ActCopyCode:     creds.FailCopyCode,
	ActOpenBrowser:  creds.FailBrowser,
	ActFavorite:     creds.FailFavorite,
	ActUnfavorite:   creds.FailFavorite,
	ActFindRole:     creds.FailFindRole,
	ActConsole:      creds.FailConsole,
	ActRefresh:      creds.FailRefresh,
	ActAutostartOn:  creds.FailAutostart,
	ActAutostartOff: creds.FailAutostart,
}

// Failure is the notification of an action that failed: an error (its
// icon and urgency), titled with what did not work, its body what happened
// and what to do, from creds' texts. The error itself goes to the log
// only (Detail): a person reads no SDK error chain. A later failure of the
// same kind of action replaces it on screen.
func Failure(act Action, err error) Note {
	t, ok := failTitle[act.Kind]
	if !ok {
		t = creds.FailOther
	}
	var title string
	switch t {
	case creds.FailLoad, creds.FailLoadSlot, creds.FailUnload, creds.FailPin, creds.FailFavorite:
		title = creds.Say(t, act.Profile)
	case creds.FailLogin, creds.FailLogout, creds.FailCancelLogin:
		title = creds.Say(t, act.Session)
	default:
		title = creds.Say(t)
	}
	body := advice(err.Error())
	if p := (*creds.Problem)(nil); errors.As(err, &p) {
		body = p.Error() // a text of the table, with what to do
	}
	return Note{Key: "fail/" + title, Group: "fail/" + strconv.Itoa(int(act.Kind)), Kind: NoteError,
		Title: title, Body: body, Detail: err.Error()}
}
