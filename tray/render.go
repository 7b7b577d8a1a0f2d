//go:build cgo || !darwin

package tray

import (
	"reflect"
	"slices"
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
	watch *watcher // top level only: the clicks of every entry below
}

// build shows items, changing as little as it can. Where a menu level keeps
// the same entries (same keys: kind, action, submenu identity), labels,
// checkmarks and the enabled state are updated in place; a level whose
// entries changed gets new systray items. A new systray item has a new id,
// and an entry's action never changes once created: a click reaches the
// entry it was made on, or nothing.
func (r *renderer) build(items []Item) {
	if !sameKeys(r.menu, items) || hasSeparatorBelowTop(r.menu, items) {
		r.opts.Logger.Debug("tray menu rebuilt", "why", firstChange(r.menu, items))
		r.top.stop()
		for _, n := range r.menu {
			n.watch.stop()
		}
		systray.ResetMenu()
		r.menu = r.add(nil, items)
		r.top = r.watch(leafEntries(r.menu))
		for _, n := range r.menu {
			n.watch = r.watch(subtreeEntries(n.kids))
		}
		return
	}
	for i, n := range r.menu {
		if r.update(n, items[i], n) {
			n.watch = r.watch(subtreeEntries(n.kids))
		}
	}
}

// update brings n, whose key is unchanged, up to date with it; levels below
// whose keys changed are rebuilt. owner is n's top-level ancestor, whose
// watcher covers n's clicks: it is stopped when entries below it change,
// and update reports that it needs a new one.
func (r *renderer) update(n *node, it Item, owner *node) (rewatch bool) {
	if n.item == nil {
		return false
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
		for i, k := range n.kids {
			if r.update(k, it.Children[i], owner) {
				rewatch = true
			}
		}
		return rewatch
	}
	owner.watch.stop() // before fyne.io/systray closes the channels
	owner.watch = nil
	for _, k := range n.kids {
		k.item.Remove()
	}
	n.kids = r.add(n.item, it.Children)
	return true
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
			n.click = &entry{ch: n.item.ClickedCh, action: it.Action}
			n.click.enabled.Store(!it.Disabled)
		}
		n.shown.Children = nil
		nodes = append(nodes, n)
	}
	return nodes
}

// leafEntries are the click targets of one level.
func leafEntries(nodes []*node) []*entry {
	var out []*entry
	for _, n := range nodes {
		if n.click != nil {
			out = append(out, n.click)
		}
	}
	return out
}

// subtreeEntries are the click targets of nodes and every level below.
func subtreeEntries(nodes []*node) []*entry {
	var out []*entry
	for _, n := range nodes {
		if n.click != nil {
			out = append(out, n.click)
		}
		out = append(out, subtreeEntries(n.kids)...)
	}
	return out
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

// firstChange describes the first top-level entry that changed, for the
// debug log.
func firstChange(nodes []*node, items []Item) string {
	for i := range max(len(nodes), len(items)) {
		var was, is string
		if i < len(nodes) {
			was = nodes[i].key
		}
		if i < len(items) {
			is = itemKey(items[i])
		}
		if was != is {
			return strconv.Quote(was) + " -> " + strconv.Quote(is)
		}
	}
	return "a separator in a changed submenu"
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

// A watcher waits for the clicks of one top-level submenu (or of the top
// level's own entries) in its own goroutine and runs the clicked entry's
// action. One per top-level submenu, rather than one for the whole menu,
// keeps "All accounts" listening while Recent or the status line is
// rebuilt by a switch: fyne.io/systray drops a click that finds nobody
// waiting. fyne.io/systray closes an entry's ClickedCh
// when the entry is removed: a closed channel is a removed entry, never a
// click.
type watcher struct {
	done chan struct{}
}

// entry is a clickable menu entry: its channel and its action, fixed for
// its life, and whether it is enabled now.
type entry struct {
	ch      <-chan struct{}
	action  Action
	enabled atomic.Bool
}

// watch starts a watcher of entries (nil when there are none).
func (r *renderer) watch(entries []*entry) *watcher {
	if len(entries) == 0 {
		return nil
	}
	w := &watcher{done: make(chan struct{})}
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.done)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(r.stop)},
	}
	for _, e := range entries {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(e.ch)})
	}
	do := r.opts.Actions.Do
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			i, _, ok := reflect.Select(cases)
			switch {
			case i < 2:
				return
			case !ok:
				cases = slices.Delete(cases, i, i+1)
				entries = slices.Delete(entries, i-2, i-1)
			case entries[i-2].enabled.Load(): // systray delivers clicks on disabled entries too
				go do(entries[i-2].action)
			}
		}
	}()
	return w
}

// stop ends the watcher; a nil watcher has nothing to stop.
func (w *watcher) stop() {
	if w != nil {
		close(w.done)
	}
}
