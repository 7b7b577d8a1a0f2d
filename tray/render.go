//go:build cgo || !darwin

package tray

import (
	"reflect"
	"strconv"
	"sync/atomic"

	"fyne.io/systray"
)

// node is one rendered menu entry.
type node struct {
	key   string
	item  *systray.MenuItem // nil for a separator
	shown Item              // what the entry shows now (Children unused)
	click *entry            // nil when the entry does nothing
	kids  []*node
}

// build shows items, changing as little as it can. Where a menu level keeps
// the same entries (same keys: kind, action, submenu identity), labels,
// checkmarks and the enabled state are updated in place; a level whose
// entries changed gets new systray items. A new systray item has a new id,
// and an entry's action never changes once created: a click reaches the
// entry it was made on, or nothing.
func (r *renderer) build(items []Item) {
	if !sameKeys(r.menu, items) || hasSeparatorBelowTop(r.menu, items) {
		for _, n := range r.menu {
			r.drop(n)
		}
		systray.ResetMenu()
		r.menu = r.add(nil, items)
	} else {
		r.update(r.menu, items)
	}
	if r.clicks.changed {
		r.clicks.publish(r.menu)
	}
}

// update brings the entries of one level, whose keys are unchanged, up to
// date; levels below are rebuilt when their keys changed.
func (r *renderer) update(nodes []*node, items []Item) {
	for i, n := range nodes {
		it := items[i]
		if n.item == nil {
			continue
		}
		if it.Label != n.shown.Label {
			n.item.SetTitle(it.Label)
		}
		if it.Checked != n.shown.Checked {
			if it.Checked {
				n.item.Check()
			} else {
				n.item.Uncheck()
			}
		}
		if it.Disabled != n.shown.Disabled {
			if it.Disabled {
				n.item.Disable()
			} else {
				n.item.Enable()
			}
			if n.click != nil {
				n.click.enabled.Store(!it.Disabled)
			}
		}
		n.shown = it
		if sameKeys(n.kids, it.Children) {
			r.update(n.kids, it.Children)
			continue
		}
		for _, k := range n.kids {
			r.drop(k)
			k.item.Remove()
		}
		n.kids = r.add(n.item, it.Children)
	}
}

// add creates the entries of items under parent (nil: the top level).
func (r *renderer) add(parent *systray.MenuItem, items []Item) []*node {
	nodes := make([]*node, 0, len(items))
	for _, it := range items {
		n := &node{key: itemKey(it), shown: it}
		if it.Separator {
			if parent == nil {
				systray.AddSeparator()
			} else {
				parent.AddSeparator()
			}
			nodes = append(nodes, n)
			continue
		}
		switch {
		case parent == nil && it.Checkable:
			n.item = systray.AddMenuItemCheckbox(it.Label, "", it.Checked)
		case parent == nil:
			n.item = systray.AddMenuItem(it.Label, "")
		case it.Checkable:
			n.item = parent.AddSubMenuItemCheckbox(it.Label, "", it.Checked)
		default:
			n.item = parent.AddSubMenuItem(it.Label, "")
		}
		if it.Disabled {
			n.item.Disable()
		}
		if len(it.Children) > 0 {
			n.kids = r.add(n.item, it.Children)
		} else if it.Action.Kind != ActNone {
			n.click = r.clicks.add(n.item.ClickedCh, it.Action, !it.Disabled)
		}
		n.shown.Children = nil
		nodes = append(nodes, n)
	}
	return nodes
}

// drop forgets the click targets of n and the entries below it.
func (r *renderer) drop(n *node) {
	if n.click != nil {
		r.clicks.remove(n.click)
	}
	for _, k := range n.kids {
		r.drop(k)
	}
}

// sameKeys reports whether nodes show the same entries as items.
func sameKeys(nodes []*node, items []Item) bool {
	if len(nodes) != len(items) {
		return false
	}
	for i, n := range nodes {
		if n.key != itemKey(items[i]) {
			return false
		}
	}
	return true
}

// hasSeparatorBelowTop reports whether a submenu whose entries change holds
// a separator: fyne.io/systray cannot remove one, so the whole menu is
// rebuilt then.
func hasSeparatorBelowTop(nodes []*node, items []Item) bool {
	if !sameKeys(nodes, items) {
		return false
	}
	for i, n := range nodes {
		kids := items[i].Children
		if sameKeys(n.kids, kids) {
			if hasSeparatorBelowTop(n.kids, kids) {
				return true
			}
			continue
		}
		for _, k := range n.kids {
			if k.item == nil {
				return true
			}
		}
	}
	return false
}

// itemKey is an entry's identity: its kind, its action, and the model's
// Key (or, for a submenu without one, its label). Labels, checkmarks and
// the enabled state are not part of it.
func itemKey(it Item) string {
	kind := "a"
	switch {
	case it.Separator:
		return "-"
	case len(it.Children) > 0:
		kind = "+"
		if it.Key == "" {
			return kind + it.Label
		}
	case it.Checkable:
		kind = "c"
	}
	a := it.Action
	return kind + strconv.Itoa(int(a.Kind)) + "\x00" + a.Profile + "\x00" + a.Session + "\x00" + it.Key
}

// dispatcher waits for the clicks of every entry in one goroutine and
// runs the entry's action. fyne.io/systray closes an entry's ClickedCh
// when the entry is removed: a closed channel is a removed entry, never a
// click.
type dispatcher struct {
	do      func(Action)
	entries map[*entry]bool
	changed bool
	tables  chan []*entry
}

// entry is a clickable menu entry: its channel and its action, fixed for
// its life, and whether it is enabled now.
type entry struct {
	ch      <-chan struct{}
	action  Action
	enabled atomic.Bool
}

func newDispatcher(do func(Action)) *dispatcher {
	return &dispatcher{do: do, entries: map[*entry]bool{}, tables: make(chan []*entry, 1)}
}

func (d *dispatcher) add(ch <-chan struct{}, a Action, enabled bool) *entry {
	e := &entry{ch: ch, action: a}
	e.enabled.Store(enabled)
	d.entries[e] = true
	d.changed = true
	return e
}

func (d *dispatcher) remove(e *entry) {
	delete(d.entries, e)
	d.changed = true
}

// publish hands the current entries, in menu order, to the dispatching
// goroutine, replacing a table it has not picked up yet.
func (d *dispatcher) publish(menu []*node) {
	var table []*entry
	var walk func([]*node)
	walk = func(nodes []*node) {
		for _, n := range nodes {
			if n.click != nil && d.entries[n.click] {
				table = append(table, n.click)
			}
			walk(n.kids)
		}
	}
	walk(menu)
	select {
	case <-d.tables:
	default:
	}
	d.tables <- table
	d.changed = false
}

// run dispatches clicks until stop is closed.
func (d *dispatcher) run(stop <-chan struct{}) {
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(stop)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(d.tables)},
	}
	var table []*entry
	for {
		i, v, ok := reflect.Select(cases)
		switch {
		case i == 0:
			return
		case i == 1:
			table = v.Interface().([]*entry)
			cases = cases[:2]
			for _, e := range table {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(e.ch)})
			}
		case !ok:
			// A removed entry: stop listening to it.
			cases = append(cases[:i], cases[i+1:]...)
			table = append(table[:i-2], table[i-1:]...)
		default:
			// fyne.io/systray delivers clicks on disabled entries too.
			if e := table[i-2]; e.enabled.Load() {
				go d.do(e.action)
			}
		}
	}
}
