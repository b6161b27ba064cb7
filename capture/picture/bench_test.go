package picture

import (
	"image"
	"testing"
)

func testFrames() (*image.Gray, *image.Gray) {
	a, b := image.NewGray(image.Rect(0, 0, 1280, 720)), image.NewGray(image.Rect(0, 0, 1280, 720))
	for i := range a.Pix {
		a.Pix[i] = uint8(i * 7)
		b.Pix[i] = uint8(i*7 + i%3*20)
	}
	return a, b
}

func BenchmarkIsBlack720p(b *testing.B) {
	a, _ := testFrames()
	for i := 0; i < b.N; i++ {
		if _, err := IsBlack(a, BlackOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMotion720p(b *testing.B) {
	x, y := testFrames()
	for i := 0; i < b.N; i++ {
		if _, err := Compare(x, y, MotionOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
