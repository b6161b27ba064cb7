package capture

import (
	"bytes"
	"fmt"
	"hash/adler32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"

	xdraw "golang.org/x/image/draw"
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

// Flat screens (rows equal to the row above), a single transparent pixel
// at the very end, and sub-images all encode to the same pixels.
func TestEncodePNGScreens(t *testing.T) {
	screen := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	for y := 0; y < 720; y++ {
		for x := 0; x < 1280; x++ {
			c := color.RGBA{20, 40, 90, 255}
			if y >= 100 && y < 160 && x >= 50 && x < 700 {
				c = color.RGBA{255, 255, 255, 255}
			}
			if y >= 300 && y < 310 {
				c = color.RGBA{uint8(x), uint8(y), uint8(x + y), 255}
			}
			screen.SetRGBA(x, y, c)
		}
	}
	holed := image.NewRGBA(screen.Rect)
	copy(holed.Pix, screen.Pix)
	holed.SetRGBA(1279, 719, color.RGBA{1, 2, 3, 4})
	sub := screen.SubImage(image.Rect(30, 90, 731, 333)).(*image.RGBA)
	for name, img := range map[string]*image.RGBA{"screen": screen, "one transparent pixel": holed, "sub-image": sub} {
		for _, cores := range []int{1, 2, 5} {
			var buf bytes.Buffer
			if err := encodePNG(&buf, img, cores); err != nil {
				t.Fatal(err)
			}
			got, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("%s, %d cores: %v", name, cores, err)
			}
			if got.Bounds().Dx() != img.Rect.Dx() || got.Bounds().Dy() != img.Rect.Dy() {
				t.Fatalf("%s: size %v", name, got.Bounds())
			}
			for y := 0; y < img.Rect.Dy(); y++ {
				for x := 0; x < img.Rect.Dx(); x++ {
					want := color.NRGBAModel.Convert(img.At(img.Rect.Min.X+x, img.Rect.Min.Y+y))
					if have := color.NRGBAModel.Convert(got.At(x, y)); have != want {
						t.Fatalf("%s, %d cores: pixel %d,%d is %v, want %v", name, cores, x, y, have, want)
					}
				}
			}
		}
	}
}

func TestAdler32Combine(t *testing.T) {
	data := bytes.Repeat([]byte("vpt screenshots \x00\xff"), 9000)
	for _, cut := range []int{0, 1, 5552, 65521, len(data) - 1, len(data)} {
		a, b := adler32.Checksum(data[:cut]), adler32.Checksum(data[cut:])
		if got, want := adler32Combine(a, b, len(data)-cut), adler32.Checksum(data); got != want {
			t.Fatalf("cut %d: %08x, want %08x", cut, got, want)
		}
	}
}

// The fixed-point thumbnail scaler agrees with x/image's ApproxBiLinear to
// within rounding.
func TestScaleRGBA(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []image.Point{{1280, 720}, {333, 97}, {1080, 1920}, {641, 2}} {
		src := image.NewRGBA(image.Rect(0, 0, size.X, size.Y))
		for i := range src.Pix {
			src.Pix[i] = uint8(rng.IntN(256))
		}
		// Smooth areas too, where a scaler's error would show.
		for y := 0; y < size.Y/2; y++ {
			for x := 0; x < size.X; x++ {
				src.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 255})
			}
		}
		got := Thumbnail(src, 320).(*image.RGBA)
		want := image.NewRGBA(got.Rect)
		xdraw.ApproxBiLinear.Scale(want, want.Rect, src, src.Rect, xdraw.Src, nil)
		for i := range got.Pix {
			if d := int(got.Pix[i]) - int(want.Pix[i]); d < -2 || d > 2 {
				t.Fatalf("%v: byte %d (pixel %d,%d) is %d, ApproxBiLinear gives %d", size, i,
					i/4%got.Rect.Dx(), i/4/got.Rect.Dx(), got.Pix[i], want.Pix[i])
			}
		}
	}
}

// Each picture of a sequence encoded after the one before decodes to its
// own pixels, whatever changed: a few rows, the first row, the row just
// above a band (which the Up filter reads), the size, nothing. Flat bands
// (rows repeating the one above) come from the shared memo.
func TestEncodePNGAfter(t *testing.T) {
	base := func(w, h int) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.RGBA{20, 40, 80, 255} // flat background
				if y >= 100 && y < 140 {
					c = color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255}
				}
				img.SetRGBA(x, y, c)
			}
		}
		return img
	}
	edit := func(img *image.RGBA, y int) *image.RGBA {
		out := &image.RGBA{Pix: bytes.Clone(img.Pix), Stride: img.Stride, Rect: img.Rect}
		for x := 0; x < out.Rect.Dx(); x += 3 {
			out.SetRGBA(x, y, color.RGBA{255, 255, uint8(x), 255})
		}
		return out
	}
	a := base(640, 360)
	seq := []*image.RGBA{a, edit(a, 200), edit(a, 0), edit(a, 2*bandRows-1), edit(a, 359), edit(a, 359), base(320, 200), a}
	var cache pngCache
	for i, img := range seq {
		roundTrip(t, fmt.Sprintf("picture %d", i), img, &cache)
	}
	// The bands that did not change are the cached ones, not compressed
	// again: encoding the same picture twice gives the same pieces.
	_, before := cache.get()
	var buf bytes.Buffer
	if err := encodePNGAfter(&buf, seq[len(seq)-1], 1, &cache); err != nil {
		t.Fatal(err)
	}
	_, after := cache.get()
	for i := range after {
		if &after[i].packed[0] != &before[i].packed[0] {
			t.Fatalf("band %d of an unchanged picture was compressed again", i)
		}
	}
}

// Flat bands of different shapes but the same number of bytes (16 rows of
// 10 pixels, 4 rows of 41) are not mistaken for one another.
func TestFlatBandsOfEqualSize(t *testing.T) {
	for _, size := range []image.Point{{10, 32}, {41, 20}} {
		img := image.NewRGBA(image.Rect(0, 0, size.X, size.Y))
		for i := range img.Pix {
			img.Pix[i] = 255
		}
		roundTrip(t, fmt.Sprint(size), img, nil)
	}
}

// roundTrip encodes an opaque picture (after the one in cache, if any) and
// fails t unless it decodes to the same size and colours.
func roundTrip(t *testing.T, name string, img *image.RGBA, cache *pngCache) {
	t.Helper()
	var buf bytes.Buffer
	if err := encodePNGAfter(&buf, img, 2, cache); err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !got.Bounds().Eq(img.Rect) {
		t.Fatalf("%s: decoded %v", name, got.Bounds())
	}
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := got.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				t.Fatalf("%s: pixel %d,%d differs", name, x, y)
			}
		}
	}
}

func BenchmarkThumbnail(b *testing.B) {
	src := image.NewRGBA(image.Rect(0, 0, 1280, 720))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 7)
	}
	for b.Loop() {
		Thumbnail(src, 320)
	}
}

// adler32Sparse is Adler-32, on sparse and dense data of any length.
func TestAdler32Sparse(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 5551, 5552, 5553, 20000, 100003} {
		for _, density := range []int{0, 1, 10, 100} {
			b := make([]byte, n)
			for i := range b {
				if rng.IntN(100) < density {
					b[i] = uint8(rng.IntN(256))
				}
			}
			if n > 0 && density == 100 {
				for i := range b {
					b[i] = 0xff
				}
			}
			if got, want := adler32Sparse(b), adler32.Checksum(b); got != want {
				t.Fatalf("%d bytes, %d%% not zero: %08x, want %08x", n, density, got, want)
			}
		}
	}
}
