//go:build cgo || !darwin

package tray

import (
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"fyne.io/systray"

	"github.com/rolecall/rolecall/assets"
)

// Options configure the tray. State, Changes and Actions are required.
type Options struct {
	// State returns what the menu shows; it must be cheap (no network).
	State func() State
	// Changes receives a value whenever State may have changed.
	Changes <-chan struct{}
	// Actions are what clicks do; each runs in its own goroutine.
	Actions Actions
	// Leads are the notification lead times before a session ends.
	Leads    []time.Duration
	Notifier *Notifier
	Logger   *slog.Logger
	// OnReady runs once the icon is up; OnExit after the tray is gone.
	OnReady, OnExit func()

	// rendered, in tests, runs after each render.
	rendered func()
}

// Run shows the tray icon and its menu until Quit. It must be called from
// the main goroutine (macOS and Windows want the UI there) and blocks.
func Run(opts Options) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &renderer{opts: opts, stop: make(chan struct{})}
	if opts.Notifier != nil {
		opts.Notifier.setActions(opts.Actions.Do)
	}
	systray.Run(r.ready, func() {
		close(r.stop)
		r.wg.Wait()
		if opts.OnExit != nil {
			opts.OnExit()
		}
	})
}

// Quit removes the icon and makes Run return.
func Quit() { systray.Quit() }

// renderer turns the model into systray calls. It holds no lock while
// calling systray and does no network work.
type renderer struct {
	opts Options
	stop chan struct{}
	wg   sync.WaitGroup
	icon IconKind
	menu []*node
	top  *watcher // the clicks of the top level
}

func (r *renderer) ready() {
	systray.SetTitle("rolecall")
	r.icon = -1
	r.wg.Add(1)
	go r.loop()
	if r.opts.OnReady != nil {
		r.opts.OnReady()
	}
}

func (r *renderer) loop() {
	defer r.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.opts.Changes:
		case <-timer.C:
		}
		next := r.render(time.Now())
		timer.Reset(time.Until(next))
		if r.opts.rendered != nil {
			r.opts.rendered()
		}
	}
}

// render updates icon, tooltip and menu, shows due notifications, and
// returns when it wants to run again: the next notification, or the next
// minute (the menu shows minutes left).
func (r *renderer) render(now time.Time) time.Time {
	st := r.opts.State()
	if k := Icon(st, now, slices.Max(append([]time.Duration{0}, r.opts.Leads...))); k != r.icon {
		r.icon = k
		setIcon(k)
	}
	systray.SetTooltip(Tooltip(st, now))
	r.build(Menu(st, now))
	next := now.Truncate(time.Minute).Add(time.Minute)
	if r.opts.Notifier != nil {
		notes, at := Due(st, now, r.opts.Leads)
		if err := r.opts.Notifier.Show(notes); err != nil {
			r.opts.Logger.Warn("notification not shown", "err", err)
		}
		if !at.IsZero() && at.Before(next) {
			next = at
		}
	}
	return next
}

func setIcon(k IconKind) {
	name := [...]string{IconNone: "none", IconActive: "active", IconWarning: "warning", IconError: "error"}[k]
	switch runtime.GOOS {
	case "windows":
		systray.SetIcon(assets.Icon(name, "ico"))
	case "darwin":
		systray.SetTemplateIcon(assets.Icon(name, "template"), assets.Icon(name, "png"))
	default:
		systray.SetIcon(assets.Icon(name, "png"))
	}
}
