package tray

import "time"

// HostWait is how long Available waits for a tray host to appear (a
// desktop session starting up starts its panel in parallel).
const HostWait = 3 * time.Second

// Available reports whether a tray icon can be shown; the error says why
// not, in words for a one-line notice.
func Available() error { return available(HostWait) }
