package creds

import (
	"errors"
	"strconv"
)

// ExpirationFormat is how an expiration travels on the wire: UTC, seconds,
// a literal Z (the form every AWS SDK parses).
const ExpirationFormat = "2006-01-02T15:04:05Z"

// Advice is the one line a person reads for an error of the manager about
// slot: what went wrong and what to do next. The credential listener and
// the control channel both answer with it.
func Advice(slot string, err error) string {
	switch {
	case errors.Is(err, ErrNothingLoaded):
		return "no role loaded in the default slot: pick one in the rolecall tray or run `rolecall load --profile NAME`"
	case errors.Is(err, ErrNoSuchSlot):
		return "no slot named " + strconv.Quote(slot) + ": run `rolecall load --profile " + slot + " --slot`"
	case errors.Is(err, ErrLoginRequired):
		return "the SSO session has ended: run `rolecall login` (or use Log in in the tray), then retry"
	default:
		return "credentials for " + SlotLabel(slot) + " are expired and could not be refreshed: " + err.Error()
	}
}

// SlotLabel names a slot in a sentence.
func SlotLabel(name string) string {
	if name == DefaultSlot {
		return "the default slot"
	}
	return "slot " + strconv.Quote(name)
}
