//go:build cgo || !darwin

package tray

import (
	"fmt"
	"log/slog"
	"runtime"
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
}

// Run shows the tray icon and its menu until Quit. It must be called from
// the main goroutine (macOS and Windows want the UI there) and blocks.
func Run(opts Options) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &renderer{opts: opts, stop: make(chan struct{})}
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
	opts  Options
	stop  chan struct{}
	wg    sync.WaitGroup
	icon  IconKind
	shape []string
	items []*systray.MenuItem
	flat  []Item
	gen   chan struct{} // closed when the items are replaced
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
	}
}

// render updates icon, tooltip and menu, shows due notifications, and
// returns when it wants to run again: the next notification, or the next
// minute (the menu shows minutes left).
func (r *renderer) render(now time.Time) time.Time {
	st := r.opts.State()
	if k := Icon(st, now); k != r.icon {
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

// build shows items. When only labels and checks changed, the existing
// entries are updated in place; otherwise the menu is rebuilt.
func (r *renderer) build(items []Item) {
	var flat []Item
	var shape []string
	var walk func([]Item, int)
	walk = func(items []Item, depth int) {
		for _, it := range items {
			flat = append(flat, it)
			shape = append(shape, itemShape(it, depth))
			walk(it.Children, depth+1)
		}
	}
	walk(items, 0)
	if slicesEqual(shape, r.shape) {
		for i, it := range flat {
			if it.Separator {
				continue
			}
			mi := r.items[i]
			if it.Label != r.flat[i].Label {
				mi.SetTitle(it.Label)
			}
			if it.Checked != r.flat[i].Checked {
				if it.Checked {
					mi.Check()
				} else {
					mi.Uncheck()
				}
			}
		}
		r.flat = flat
		return
	}
	if r.gen != nil {
		close(r.gen)
	}
	r.gen = make(chan struct{})
	systray.ResetMenu()
	r.items = r.items[:0]
	var add func([]Item, *systray.MenuItem)
	add = func(items []Item, parent *systray.MenuItem) {
		for _, it := range items {
			if it.Separator {
				if parent == nil {
					systray.AddSeparator()
				} else {
					parent.AddSeparator()
				}
				r.items = append(r.items, nil)
				continue
			}
			var mi *systray.MenuItem
			switch {
			case parent == nil && it.Checkable:
				mi = systray.AddMenuItemCheckbox(it.Label, "", it.Checked)
			case parent == nil:
				mi = systray.AddMenuItem(it.Label, "")
			case it.Checkable:
				mi = parent.AddSubMenuItemCheckbox(it.Label, "", it.Checked)
			default:
				mi = parent.AddSubMenuItem(it.Label, "")
			}
			if it.Disabled {
				mi.Disable()
			}
			r.items = append(r.items, mi)
			if len(it.Children) > 0 {
				add(it.Children, mi)
				continue
			}
			if it.Action.Kind != ActNone {
				r.wg.Add(1)
				go r.clicks(mi, it, r.gen)
			}
		}
	}
	add(items, nil)
	r.shape, r.flat = shape, flat
}

// clicks forwards the clicks of one entry until the menu is rebuilt.
// fyne.io/systray delivers clicks on disabled entries too: they are
// dropped here.
func (r *renderer) clicks(mi *systray.MenuItem, it Item, gen chan struct{}) {
	defer r.wg.Done()
	for {
		select {
		case <-mi.ClickedCh:
			if !it.Disabled {
				go r.opts.Actions.Do(it.Action)
			}
		case <-gen:
			return
		case <-r.stop:
			return
		}
	}
}

// itemShape is what an entry must keep for an in-place update: its place,
// kind, action and enabled state. Labels and checks may change.
func itemShape(it Item, depth int) string {
	kind := "a"
	switch {
	case it.Separator:
		kind = "-"
	case len(it.Children) > 0:
		kind = "+"
	case it.Checkable:
		kind = "c"
	}
	return fmt.Sprintf("%d%s%t|%d|%s|%s", depth, kind, it.Disabled, it.Action.Kind, it.Action.Profile, it.Action.Session)
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
