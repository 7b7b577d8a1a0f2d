package main

import (
	"slices"
	"sync"

	"github.com/rolecall/rolecall/tray"
	"github.com/rolecall/rolecall/tray/picker"
)

// rolePicker owns the "Find a role…" page's server: started on first use,
// closed with the app.
type rolePicker struct {
	mu  sync.Mutex
	srv *picker.Server
}

// findRole opens the role picker in the browser through a fresh one-time
// link.
func (a *app) findRole() error {
	a.picker.mu.Lock()
	if a.picker.srv == nil {
		srv, err := picker.Start(picker.Options{
			Roles:    a.pickerRoles,
			Load:     func(p string) error { return a.load(p, false) },
			LoadSlot: func(p string) error { return a.load(p, true) },
			Favorite: func(p string, on bool) error {
				defer a.changed()
				return a.favs.Set(p, on)
			},
			Logger: a.log,
		})
		if err != nil {
			a.picker.mu.Unlock()
			return err
		}
		a.picker.srv = srv
	}
	link := a.picker.srv.Link()
	a.picker.mu.Unlock()
	return a.openURL(link)
}

// pickerRoles lists every role for the page, labelled as in the menu.
func (a *app) pickerRoles() []picker.Role {
	st := a.trayState()
	loaded := ""
	if st.Slots.Default != nil {
		loaded = st.Slots.Default.Profile.Name
	}
	out := make([]picker.Role, 0, len(st.Roles))
	for _, r := range st.Roles {
		out = append(out, picker.Role{Name: r.Name, Label: tray.Label(r), Loaded: r.Name == loaded,
			Favorite: slices.Contains(st.Favorites, r.Name)})
	}
	return out
}

// close stops the page's server, if it was started.
func (p *rolePicker) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		p.srv.Close()
		p.srv = nil
	}
}
