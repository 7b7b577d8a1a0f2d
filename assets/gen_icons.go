//go:build ignore

// gen_icons draws rolecall's tray icons: a key on a round badge whose
// colour tells the state, as PNG (Linux, and inside the ICO files for
// Windows) and as black template PNGs for the macOS menu bar. Run it with
// `go generate ./assets`.
package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const ss = 8 // supersampling per axis

type state struct {
	name  string
	badge color.NRGBA
}

var states = []state{
	{"none", color.NRGBA{0x8a, 0x8f, 0x98, 0xff}},
	{"active", color.NRGBA{0x2d, 0xa4, 0x4e, 0xff}},
	{"warning", color.NRGBA{0xd2, 0x99, 0x22, 0xff}},
	{"error", color.NRGBA{0xcf, 0x22, 0x2e, 0xff}},
}

// key reports whether (x, y) in [0,1]² lies on the key: a ring for the
// bow, a shaft, two teeth.
func key(x, y float64) bool {
	cx, cy, r := 0.36, 0.38, 0.17
	d := math.Hypot(x-cx, y-cy)
	if d <= r && d >= r*0.45 {
		return true
	}
	// shaft from the bow down-right at 45°
	u := ((x - cx) + (y - cy)) / math.Sqrt2 // along
	v := ((x - cx) - (y - cy)) / math.Sqrt2 // across
	if u > r*0.8 && u < 0.50 && math.Abs(v) < 0.045 {
		return true
	}
	// teeth, sticking out to one side of the shaft
	for _, at := range []float64{0.40, 0.48} {
		if math.Abs(u-at) < 0.035 && v > 0 && v < 0.13 {
			return true
		}
	}
	return false
}

// draw renders one icon of size px: a badge in colour (or, for templates,
// none) with the key cut out in white (or drawn in black).
func draw(px int, badge color.NRGBA, template, faint bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, px, px))
	for py := 0; py < px; py++ {
		for pxx := 0; pxx < px; pxx++ {
			var badgeHits, keyHits int
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(pxx) + (float64(sx)+0.5)/ss) / float64(px)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(px)
					if math.Hypot(x-0.5, y-0.5) <= 0.48 {
						badgeHits++
					}
					if key(x, y) {
						keyHits++
					}
				}
			}
			n := float64(ss * ss)
			if template {
				a := float64(keyHits) / n
				if faint {
					a *= 0.45
				}
				img.SetNRGBA(pxx, py, color.NRGBA{0, 0, 0, uint8(a*255 + 0.5)})
				continue
			}
			b, k := float64(badgeHits)/n, float64(keyHits)/n
			// white key over the badge
			alpha := math.Max(b, k)
			if alpha == 0 {
				continue
			}
			mix := func(c uint8) uint8 { return uint8((float64(c)*(b-math.Min(b, k)) + 255*k) / alpha) }
			img.SetNRGBA(pxx, py, color.NRGBA{mix(badge.R), mix(badge.G), mix(badge.B), uint8(alpha*255 + 0.5)})
		}
	}
	return img
}

func encode(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// ico wraps PNG images in an ICO container (Vista and later read PNG
// entries).
func ico(pngs map[int][]byte, sizes []int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint16{0, 1, uint16(len(sizes))})
	offset := 6 + 16*len(sizes)
	for _, s := range sizes {
		dim := uint8(s)
		if s >= 256 {
			dim = 0
		}
		b.Write([]byte{dim, dim, 0, 0})
		binary.Write(&b, binary.LittleEndian, [2]uint16{1, 32})
		binary.Write(&b, binary.LittleEndian, [2]uint32{uint32(len(pngs[s])), uint32(offset)})
		offset += len(pngs[s])
	}
	for _, s := range sizes {
		b.Write(pngs[s])
	}
	return b.Bytes()
}

func write(name string, data []byte) {
	if err := os.WriteFile(name, data, 0o644); err != nil {
		log.Fatal(err)
	}
}

func main() {
	sizes := []int{16, 24, 32, 48, 256}
	for _, st := range states {
		pngs := map[int][]byte{}
		for _, s := range sizes {
			pngs[s] = encode(draw(s, st.badge, false, false))
		}
		write(st.name+".png", pngs[32])
		write(st.name+".ico", ico(pngs, sizes))
		write(st.name+"-template.png", encode(draw(32, st.badge, true, st.name == "none")))
	}
	write("rolecall.png", encode(draw(256, states[1].badge, false, false)))
}
