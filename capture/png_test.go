package capture

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// encodePNG's output decodes to the same pixels, opaque or not, with
// bands of any height.
func TestEncodePNG(t *testing.T) {
	for _, size := range []image.Point{{1, 1}, {7, 3}, {640, 130}, {1280, 720}} {
		for _, alpha := range []uint8{255, 128} {
			img := image.NewRGBA(image.Rect(0, 0, size.X, size.Y))
			for y := 0; y < size.Y; y++ {
				for x := 0; x < size.X; x++ {
					img.SetRGBA(x, y, color.RGBA{uint8(x * 7), uint8(y * 3), uint8(x ^ y), alpha})
				}
			}
			var buf bytes.Buffer
			if err := encodePNG(&buf, img, 1+size.X%3); err != nil {
				t.Fatal(err)
			}
			got, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("%v alpha %d: %v", size, alpha, err)
			}
			for y := 0; y < size.Y; y++ {
				for x := 0; x < size.X; x++ {
					r1, g1, b1, a1 := img.At(x, y).RGBA()
					r2, g2, b2, a2 := got.At(x, y).RGBA()
					if alpha == 255 && (r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2) {
						t.Fatalf("%v: pixel %d,%d differs", size, x, y)
					}
					if alpha != 255 && (a1 != a2) {
						t.Fatalf("%v: alpha at %d,%d differs", size, x, y)
					}
				}
			}
		}
	}
}
