package virtual

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Text drawn through the glyph cache is the text the face draws itself,
// at whole and fractional positions, the second time as the first.
func TestGlyphCacheDrawsTheSame(t *testing.T) {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		t.Fatal(err)
	}
	for _, hinting := range []font.Hinting{font.HintingFull, font.HintingNone} {
		plain, err := opentype.NewFace(f, &opentype.FaceOptions{Size: 36, DPI: 72, Hinting: hinting})
		if err != nil {
			t.Fatal(err)
		}
		cached := cache(plain)
		for _, dot := range []fixed.Point26_6{fixed.P(40, 60), {X: fixed.I(40) + 17, Y: fixed.I(60) + 5}} {
			for round := 0; round < 2; round++ {
				a, b := canvas(), canvas()
				for _, c := range []struct {
					img  *image.RGBA
					face font.Face
				}{{a, plain}, {b, cached}} {
					d := font.Drawer{Dst: c.img, Src: image.NewUniform(color.White), Face: c.face, Dot: dot}
					d.DrawString("Live TV · Guide [OK] 12:34:56.7 #000042 ÅÉ")
				}
				if !bytes.Equal(a.Pix, b.Pix) {
					t.Fatalf("hinting %v, dot %v, round %d: the cached glyphs draw differently", hinting, dot, round)
				}
			}
		}
	}
}

func canvas() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 1000, 100))
	draw.Draw(img, img.Rect, &image.Uniform{color.RGBA{10, 20, 90, 255}}, image.Point{}, draw.Src)
	return img
}
