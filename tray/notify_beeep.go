package tray

import (
	"github.com/gen2brain/beeep"

	"github.com/rolecall/rolecall/assets"
)

// beeepSender notifies through beeep: no buttons, no replacement.
type beeepSender struct{ icon []byte }

func (b beeepSender) send(n Note, _ uint32) (uint32, error) {
	icon := b.icon
	switch n.Kind {
	case NoteWarning:
		icon = assets.Icon("warning", "png")
	case NoteError:
		icon = assets.Icon("error", "png")
	}
	return 0, beeep.Notify(n.Title, n.Body, icon)
}

// take cannot close a notification: beeep gives no id.
func (beeepSender) take(uint32) error { return nil }

func (beeepSender) close() {}

func init() { beeep.AppName = "rolecall" }
