package picker

import "fmt"

// Text names one message of the picker, on its pages or in its answers.
// They are all in the texts table below (the page's script takes them
// from /api/texts), each saying what to do next.
type Text string

// The texts; the comment on each names its arguments.
const (
	NoSession   Text = "noSession"   // -
	LinkUsed    Text = "linkUsed"    // -
	Opening     Text = "opening"     // -
	UnknownRole Text = "unknownRole" // name
	Expired     Text = "expired"     // -
	Count       Text = "count"       // found, total
	CountMore   Text = "countMore"   // found, total, shown
	Saving      Text = "saving"      // -
	Switching   Text = "switching"   // name
	Serving     Text = "serving"     // name
	ServingSlot Text = "servingSlot" // name
	Waiting     Text = "waiting"     // name
	Use         Text = "use"         // -
	OwnSlot     Text = "ownSlot"     // -
	WaitingMark Text = "waitingMark" // -
)

// texts is the one mapping from a Text to its words: fmt verbs here,
// {0}, {1}... in the page's copies (texts used by the script).
var texts = map[Text]string{
	NoSession:   "this page needs a fresh link: open the role picker from rolecall's tray menu (Find a role…)",
	LinkUsed:    "this link was used or has expired: open the role picker from rolecall's tray menu again (Find a role…)",
	Opening:     "Opening the role picker…",
	UnknownRole: "no role named %s: pick one of the list (it may have changed: reload the page)",
	Expired: "This page has expired (rolecall was restarted, or the page is over an hour old): " +
		"open a new one from rolecall's tray menu: Find a role…",
	Count:       "%d of %d roles",
	CountMore:   "%d of %d roles (first %d shown: type more)",
	Saving:      "Saving…",
	Switching:   "Switching to %s…",
	Serving:     "Serving %s",
	ServingSlot: "Serving %s in its own slot too",
	Waiting:     "Waiting for sign-in: %s is served once the login in your browser completes",
	Use:         "Use",
	OwnSlot:     "Own slot",
	WaitingMark: "waiting for sign-in",
}

// Say is the text t with its arguments.
func Say(t Text, args ...any) string {
	return fmt.Sprintf(texts[t], args...)
}
