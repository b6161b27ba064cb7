package virtual

import (
	"image"
	"testing"
	"time"
)

// The spare a frozen screen leaves is a new, blank frame: never one handed
// out before (the PNG band cache keeps the last frame it encoded).
func TestSpareFrameIsNewAndBlank(t *testing.T) {
	seen := map[*uint8]bool{}
	take := func(another bool) *image.RGBA {
		img := newFrame(another)
		if img.Bounds() != image.Rect(0, 0, Width, Height) {
			t.Fatalf("frame %v", img.Bounds())
		}
		if seen[&img.Pix[0]] {
			t.Fatal("a frame was handed out twice")
		}
		seen[&img.Pix[0]] = true
		for i, b := range img.Pix {
			if b != 0 {
				t.Fatalf("byte %d of a new frame is %d", i, b)
			}
		}
		for i := range img.Pix {
			img.Pix[i] = 0xff // as a drawing would
		}
		return img
	}
	for round := 0; round < 3; round++ {
		take(true)
		deadline := time.Now().Add(5 * time.Second)
		for len(spare) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if len(spare) == 0 {
			t.Fatal("no spare frame after a frozen screen")
		}
		take(false)
		if len(spare) != 0 {
			t.Fatal("a spare was made for a plain screenshot")
		}
	}
}
