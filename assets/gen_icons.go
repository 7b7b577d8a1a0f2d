//go:build ignore

// gen_icons writes rolecall's tray icons, drawn by package draw: PNG
// (Linux), ICO with every size drawn on its own pixel grid (Windows), and
// black template PNGs (the macOS menu bar). Run it with
// `go generate ./assets`.
package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"log"
	"os"

	"github.com/rolecall/rolecall/assets/internal/draw"
)

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
	for _, st := range draw.States {
		pngs := map[int][]byte{}
		for _, s := range sizes {
			pngs[s] = encode(draw.Icon(st, s, false))
		}
		write(st+".png", pngs[32])
		write(st+".ico", ico(pngs, sizes))
		write(st+"-template.png", encode(draw.Icon(st, 32, true)))
	}
	write("rolecall.png", encode(draw.Icon("active", 256, false)))
}
