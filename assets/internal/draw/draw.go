// Package draw draws rolecall's tray icons: a key whose silhouette, not
// only its colour, tells the state. Shapes are rasterised per size with
// hard edges (every pixel fully on or off), so that a panel shows them
// crisp and a monochrome panel or a colour-blind eye still tells them
// apart:
//
//	none     a key drawn in thin lines (no role loaded)
//	active   a solid key (serving)
//	warning  a solid key and a triangle with "!" (ending soon, log in)
//	error    a solid key and a disc with "×" (refreshing fails)
//
// It is used by gen_icons.go and by the tests, never by rolecall itself.
package draw

import (
	"image"
	"image/color"
	"math"
)

// States are the icon states, in the order of tray.IconKind.
var States = []string{"none", "active", "warning", "error"}

// Colours of the states: saturated enough to read on light and dark panels.
var Colours = map[string]color.NRGBA{
	"none":    {0x6e, 0x77, 0x81, 0xff},
	"active":  {0x1f, 0x88, 0x3d, 0xff},
	"warning": {0xbf, 0x87, 0x00, 0xff},
	"error":   {0xcf, 0x22, 0x2e, 0xff},
}

const ss = 4 // samples per pixel and axis; a pixel is on when half are

// shape reports whether a point of the unit square is painted; px is the
// target size (strokes keep at least one pixel).
type shape func(x, y, px float64) bool

func disc(cx, cy, r float64) shape {
	return func(x, y, _ float64) bool { return math.Hypot(x-cx, y-cy) <= r }
}

// bar is a segment from (x0,y0) to (x1,y1) of width w.
func bar(x0, y0, x1, y1, w float64) shape {
	return func(x, y, _ float64) bool {
		dx, dy := x1-x0, y1-y0
		t := ((x-x0)*dx + (y-y0)*dy) / (dx*dx + dy*dy)
		if t < 0 || t > 1 {
			return false
		}
		return math.Hypot(x-(x0+t*dx), y-(y0+t*dy)) <= w/2
	}
}

func union(s ...shape) shape {
	return func(x, y, px float64) bool {
		for _, f := range s {
			if f(x, y, px) {
				return true
			}
		}
		return false
	}
}

func minus(a, b shape) shape {
	return func(x, y, px float64) bool { return a(x, y, px) && !b(x, y, px) }
}

// grow widens a shape by d (in unit lengths), sampling a ring of points.
func grow(s shape, d func(px float64) float64) shape {
	return func(x, y, px float64) bool {
		if s(x, y, px) {
			return true
		}
		r := d(px)
		for i := range 16 {
			a := float64(i) * math.Pi / 8
			if s(x+r*math.Cos(a), y+r*math.Sin(a), px) {
				return true
			}
		}
		return false
	}
}

// pixels is d pixels in unit lengths.
func pixels(d float64) func(px float64) float64 { return func(px float64) float64 { return d / px } }

// key is the solid key, lying across the upper half (the badges take the
// lower right): a bow with a hole, a shaft, two teeth.
var key = union(
	minus(disc(0.24, 0.30, 0.23), disc(0.24, 0.30, 0.085)),
	bar(0.40, 0.30, 0.95, 0.30, 0.16),
	bar(0.78, 0.30, 0.78, 0.52, 0.12),
	bar(0.91, 0.30, 0.91, 0.46, 0.12),
)

// lineKey is the key drawn with lines about one pixel wide at 16 px (two
// at 32): the same key, but empty.
func lineKey(x, y, px float64) bool {
	w := math.Max(1, math.Round(px/16)) / px
	return union(
		minus(disc(0.24, 0.30, 0.23), disc(0.24, 0.30, 0.23-w)),
		bar(0.47, 0.30, 0.95, 0.30, w),
		bar(0.78, 0.30, 0.78, 0.52, w),
		bar(0.91, 0.30, 0.91, 0.46, w),
	)(x, y, px)
}

func triangle(x, y, _ float64) bool {
	// apex (0.71, 0.42), base from (0.40, 0.98) to (1.02, 0.98)
	if y > 0.98 || y < 0.42 {
		return false
	}
	half := (y - 0.42) / 0.56 * 0.31
	return math.Abs(x-0.71) <= half
}

var bang = union(bar(0.71, 0.60, 0.71, 0.78, 0.10), disc(0.71, 0.88, 0.055))

var badgeDisc = disc(0.71, 0.71, 0.28)

var cross = union(bar(0.61, 0.61, 0.81, 0.81, 0.10), bar(0.61, 0.81, 0.81, 0.61, 0.10))

// withBadge is the key, kept one pixel away from the badge, and the badge
// with its mark cut out.
func withBadge(badge, mark shape) shape {
	return union(minus(key, grow(badge, pixels(1))), minus(badge, mark))
}

// centred moves a key without a badge to the middle.
func centred(s shape) shape {
	return func(x, y, px float64) bool { return s(x, y-0.20, px) }
}

// Shapes of the states.
var shapes = map[string]shape{
	"none":    centred(lineKey),
	"active":  centred(key),
	"warning": withBadge(triangle, bang),
	"error":   withBadge(badgeDisc, cross),
}

// Mask is the state's silhouette at px×px: true where the icon is painted.
func Mask(state string, px int) [][]bool {
	s := shapes[state]
	m := make([][]bool, px)
	for y := range px {
		m[y] = make([]bool, px)
		for x := range px {
			hits := 0
			for sy := range ss {
				for sx := range ss {
					u := (float64(x) + (float64(sx)+0.5)/ss) / float64(px)
					v := (float64(y) + (float64(sy)+0.5)/ss) / float64(px)
					if s(u, v, float64(px)) {
						hits++
					}
				}
			}
			m[y][x] = hits*2 >= ss*ss
		}
	}
	return m
}

// Icon is the state's icon at px×px: its colour where the mask is set,
// transparent elsewhere. A template (macOS menu bar) is black.
func Icon(state string, px int, template bool) *image.NRGBA {
	c := Colours[state]
	if template {
		c = color.NRGBA{0, 0, 0, 0xff}
	}
	img := image.NewNRGBA(image.Rect(0, 0, px, px))
	for y, row := range Mask(state, px) {
		for x, on := range row {
			if on {
				img.SetNRGBA(x, y, c)
			}
		}
	}
	return img
}
