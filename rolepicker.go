package main

import (
	"errors"
	"fmt"
	"html"
	"net/url"
	"path/filepath"
	"slices"
	"sync"

	"github.com/rolecall/rolecall/private"
	"github.com/rolecall/rolecall/server"
	"github.com/rolecall/rolecall/settings"
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
// link. The link is not put on the browser's command line, where other
// users can read it (/proc/*/cmdline): the browser opens a 0600 file of
// ours that forwards to it.
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
	dir, err := settings.StateDir()
	if err != nil {
		return err
	}
	file := filepath.Join(dir, "find-a-role.html")
	page := `<!DOCTYPE html><meta charset="utf-8"><meta name="referrer" content="no-referrer">` +
		`<meta http-equiv="refresh" content="0;url=` + html.EscapeString(link) + `"><title>rolecall</title>` +
		`<p>Opening the role picker… <a href="` + html.EscapeString(link) + `">continue</a></p>`
	if err := private.WriteFile(file, []byte(page)); err != nil {
		return fmt.Errorf("role picker: %w", err)
	}
	return a.engine.OpenURL((&url.URL{Scheme: "file", Path: filepath.ToSlash(file)}).String())
}

// pickerRoles lists every role for the page, labelled as in the menu.
func (a *app) pickerRoles() []picker.Role {
	state := a.trayState()
	loaded := ""
	if state.Slots.Default != nil {
		loaded = state.Slots.Default.Profile.Name
	}
	out := make([]picker.Role, 0, len(state.Roles))
	for _, r := range state.Roles {
		out = append(out, picker.Role{Name: r.Name, Label: tray.Label(r), Loaded: r.Name == loaded,
			Favorite: slices.Contains(state.Favorites, r.Name)})
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
