package main

import (
	"errors"
	"slices"
	"sync"

	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/tray"
	"github.com/rolecall/rolecall/tray/picker"
)

// rolePicker owns the "Find a role…" page's server: started on first use,
// closed with the app.
type rolePicker struct {
	mu     sync.Mutex
	srv    *picker.Server
	closed bool
}

// findRole opens the role picker in the browser through a fresh one-time
// link, which goes the way of every URL rolecall opens (Engine.OpenURL):
// never on the browser's command line, where other users can read it.
func (a *app) findRole() error {
	a.picker.mu.Lock()
	if a.picker.closed {
		a.picker.mu.Unlock()
		return errors.New("rolecall is stopping")
	}
	if a.picker.srv == nil {
		srv, err := picker.Start(picker.Options{
			Accept:   server.SameUser,
			Roles:    a.pickerRoles,
			Load:     func(p string) error { return a.engine.Load(p, false) },
			LoadSlot: func(p string) error { return a.engine.Load(p, true) },
			Favorite: a.engine.Favorite,
			Logger:   a.log,
		})
		if err != nil {
			a.picker.mu.Unlock()
			return err
		}
		a.picker.srv = srv
	}
	link := a.picker.srv.Link()
	a.picker.mu.Unlock()
	return a.engine.OpenURL(link)
}

// pickerRoles lists every role for the page, labelled as in the menu,
// with its place among the recent roles and whether it waits for a
// sign-in.
func (a *app) pickerRoles() []picker.Role {
	st := a.trayState()
	loaded := ""
	if st.Slots.Default != nil {
		loaded = st.Slots.Default.Profile.Name
	}
	waiting := map[string]bool{}
	for _, s := range st.Sessions {
		if s.Waiting != "" {
			waiting[s.Waiting] = true
		}
	}
	out := make([]picker.Role, 0, len(st.Roles))
	for _, r := range st.Roles {
		out = append(out, picker.Role{Name: r.Name, Label: tray.Label(r), Loaded: r.Name == loaded,
			Favorite: slices.Contains(st.Favorites, r.Name), Recent: slices.Index(st.Recent, r.Name) + 1, Pending: waiting[r.Name]})
	}
	return out
}

// close stops the page's server, if it was started.
func (p *rolePicker) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.srv != nil {
		p.srv.Close()
		p.srv = nil
	}
}
