package assets

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/rolecall/rolecall/assets/internal/draw"
)

// TestStatesDifferInShape: the four states must be told apart without
// colour (a monochrome panel, a colour-blind eye): their alpha masks
// differ in many pixels at every panel size, and every pixel is fully on
// or off (no soft or coloured fringe).
func TestStatesDifferInShape(t *testing.T) {
	for _, px := range []int{16, 22, 24, 32} {
		masks := map[string][][]bool{}
		for _, st := range draw.States {
			img := draw.Icon(st, px, false)
			on := 0
			for i := 3; i < len(img.Pix); i += 4 {
				switch img.Pix[i] {
				case 0:
				case 0xff:
					on++
				default:
					t.Fatalf("%s at %d px: a pixel of alpha %d", st, px, img.Pix[i])
				}
			}
			if on < px*px/10 {
				t.Errorf("%s at %d px: only %d pixels drawn", st, px, on)
			}
			masks[st] = draw.Mask(st, px)
		}
		min := px * px / 20 // 12 pixels at 16 px
		for i, a := range draw.States {
			for _, b := range draw.States[i+1:] {
				if d := differ(masks[a], masks[b]); d < min {
					t.Errorf("%d px: %s and %s differ in %d pixels, want at least %d", px, a, b, d, min)
				}
			}
		}
	}
}

func differ(a, b [][]bool) int {
	n := 0
	for y := range a {
		for x := range a[y] {
			if a[y][x] != b[y][x] {
				n++
			}
		}
	}
	return n
}

// TestEmbeddedIconsAreCurrent: the embedded files are what draw draws
// (run `go generate ./assets` after changing it).
func TestEmbeddedIconsAreCurrent(t *testing.T) {
	for _, st := range draw.States {
		for _, f := range []struct {
			format   string
			template bool
		}{{"png", false}, {"template", true}} {
			img, err := png.Decode(bytes.NewReader(Icon(st, f.format)))
			if err != nil {
				t.Fatalf("%s %s: %v", st, f.format, err)
			}
			if want := draw.Icon(st, 32, f.template); !sameImage(img, want) {
				t.Errorf("%s %s is not what draw draws: run go generate ./assets", st, f.format)
			}
		}
	}
}

func sameImage(a image.Image, b *image.NRGBA) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := range b.Rect.Dy() {
		for x := range b.Rect.Dx() {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}
