// Package assets holds rolecall's icons, embedded. Each state has its own
// silhouette as well as its colour, so that it reads on a monochrome panel
// too: a key in thin grey lines (no role), a solid green key (serving), an
// amber key with a warning triangle (ending soon, a login is needed), a
// red key with a crossed disc (refreshing fails). PNG for Linux, ICO for
// Windows, black template PNGs for the macOS menu bar; drawn by
// internal/draw with hard edges.
package assets

//go:generate go run gen_icons.go

import "embed"

//go:embed *.png *.ico
var files embed.FS

// Icon returns the icon of a state ("none", "active", "warning", "error")
// in the format of the platform: "png", "ico" or "template" (macOS).
func Icon(state, format string) []byte {
	name := state + ".png"
	switch format {
	case "ico":
		name = state + ".ico"
	case "template":
		name = state + "-template.png"
	}
	b, err := files.ReadFile(name)
	if err != nil {
		panic("assets: no icon " + name) // a build without its icons is broken
	}
	return b
}

// AppIcon is the 256-pixel application icon (menus, notifications).
func AppIcon() []byte {
	b, _ := files.ReadFile("rolecall.png")
	return b
}
