package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// fuzzPicture builds a picture from fuzz input: w×h pixels (a sub-image of
// a larger one when off is non-zero, so strides and origins vary), rows
// taken from pix in turn, and each row whose bit is set in repeat a copy
// of the row above (the flat bands the encoder memoises).
func fuzzPicture(w, h, off uint8, repeat uint64, pix []byte, opaque bool) *image.RGBA {
	width, height := 1+int(w)%70, 1+int(h)%70
	ox, oy := int(off)%5, int(off)/5%5
	full := image.NewRGBA(image.Rect(0, 0, width+ox+int(off)%3, height+oy))
	img := full.SubImage(image.Rect(ox, oy, ox+width, oy+height)).(*image.RGBA)
	k := 0
	for y := 0; y < height; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+width*4]
		if y > 0 && repeat&(1<<(y%64)) != 0 {
			copy(row, img.Pix[(y-1)*img.Stride:])
			continue
		}
		for x := 0; x < width; x++ {
			var c [4]byte
			for i := range c {
				if len(pix) > 0 {
					c[i] = pix[k%len(pix)]
					k++
				}
			}
			if opaque {
				c[3] = 255
			}
			copy(row[x*4:], c[:])
		}
	}
	return img
}

// samePixels fails t unless got shows img: every colour for an opaque
// picture; for others, whose premultiplied colours PNG cannot hold
// exactly, the alpha.
func samePixels(t *testing.T, name string, img *image.RGBA, got image.Image, opaque bool) {
	t.Helper()
	if got.Bounds().Dx() != img.Rect.Dx() || got.Bounds().Dy() != img.Rect.Dy() {
		t.Fatalf("%s: decoded %v, encoded %v", name, got.Bounds(), img.Rect)
	}
	b := got.Bounds()
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			want := img.RGBAAt(img.Rect.Min.X+x, img.Rect.Min.Y+y)
			r, g, bl, a := got.At(b.Min.X+x, b.Min.Y+y).RGBA()
			have := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}
			if opaque && have != want || !opaque && have.A != want.A {
				t.Fatalf("%s: pixel %d,%d is %v, want %v", name, x, y, have, want)
			}
		}
	}
}

func encodeDecode(t *testing.T, img *image.RGBA, cores int, cache *pngCache) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := encodePNGAfter(&buf, img, cores, cache); err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("%v on %d cores: the PNG does not decode: %v", img.Rect, cores, err)
	}
	return got
}

// FuzzEncodePNG: decode(encode(x)) == x for pictures of any size, origin,
// stride and content, on any number of cores.
func FuzzEncodePNG(f *testing.F) {
	f.Add(uint8(31), uint8(33), uint8(0), uint64(0xf0f0), []byte{1, 2, 3, 4, 5, 6, 7}, true, uint8(2))
	f.Add(uint8(0), uint8(0), uint8(7), uint64(0), []byte{255}, true, uint8(1))
	f.Add(uint8(9), uint8(47), uint8(13), ^uint64(0), []byte{0, 0, 0, 0}, true, uint8(5))
	f.Add(uint8(15), uint8(16), uint8(3), uint64(0xaaaa), []byte{9, 200, 31, 128}, false, uint8(3))
	f.Fuzz(func(t *testing.T, w, h, off uint8, repeat uint64, pix []byte, opaque bool, cores uint8) {
		img := fuzzPicture(w, h, off, repeat, pix, opaque)
		n := 1 + int(cores)%6
		samePixels(t, fmt.Sprintf("%v on %d cores", img.Rect, n), img, encodeDecode(t, img, n, nil), opaque)
	})
}

// FuzzEncodePNGAfter: each picture of a sequence, encoded after the one
// before through the band cache, decodes to its own pixels. ops edits
// the picture before, four bytes an edit: a pixel's row, column and new
// grey level, or (first byte 255) a picture of another size.
func FuzzEncodePNGAfter(f *testing.F) {
	f.Add(uint8(40), uint8(50), uint64(0xffff0000ffff), []byte{7, 7, 7}, []byte{0, 0, 9, 0, 16, 3, 1, 0, 15, 3, 1, 0, 255, 3, 4, 0, 49, 39, 0, 0})
	f.Add(uint8(5), uint8(33), ^uint64(0), []byte{1}, []byte{17, 0, 2, 1, 16, 0, 2, 1, 31, 4, 2, 1, 32, 4, 5, 0})
	f.Fuzz(func(t *testing.T, w, h uint8, repeat uint64, pix, ops []byte) {
		img := fuzzPicture(w, h, 0, repeat, pix, true)
		var cache pngCache
		samePixels(t, "picture 0", img, encodeDecode(t, img, 2, &cache), true)
		for i := 0; i+4 <= len(ops) && i < 4*32; i += 4 {
			op := ops[i : i+4]
			if op[0] == 255 {
				img = fuzzPicture(op[1], op[2], 0, repeat, pix, true)
			} else {
				// A new picture: the cache keeps a reference to the old one.
				next := &image.RGBA{Pix: bytes.Clone(img.Pix), Stride: img.Stride, Rect: img.Rect}
				x, y := int(op[1])%img.Rect.Dx(), int(op[0])%img.Rect.Dy()
				next.SetRGBA(x, y, color.RGBA{op[2], op[2] ^ op[3], op[3], 255})
				img = next
			}
			cores := 1 + int(binary.BigEndian.Uint16(op[2:]))%4
			samePixels(t, fmt.Sprintf("picture %d", i/4+1), img, encodeDecode(t, img, cores, &cache), true)
		}
	})
}
