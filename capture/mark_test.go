package capture

import (
	"image"
	"image/color"
	"path/filepath"
	"testing"
)

// A grey frame saved with marks: the picture stays grey and unmarked, the
// thumbnail has the region's outline where the region is, scaled.
func TestSaveLaterMarked(t *testing.T) {
	dir := t.TempDir()
	frame := image.NewGray(image.Rect(0, 0, 1280, 720))
	for i := range frame.Pix {
		frame.Pix[i] = 40
	}
	shots := NewShots(dir, ShotOptions{})
	region := image.Rect(0, 0, 1280, 120)
	box := image.Rect(640, 360, 660, 380)
	shot := shots.SaveLaterMarked(frame, "motion", Mark{region, MarkRegion}, Mark{box, MarkChange})
	if err := shots.Wait(); err != nil {
		t.Fatal(err)
	}
	full, err := DecodeImage(filepath.Join(dir, shot.Path))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := full.At(0, 0).RGBA(); r>>8 != 40 || g>>8 != 40 || b>>8 != 40 {
		t.Fatalf("the picture was marked: %v", full.At(0, 0))
	}
	thumb, err := DecodeImage(filepath.Join(dir, shot.Thumbnail))
	if err != nil {
		t.Fatal(err)
	}
	if thumb.Bounds().Dx() != 320 {
		t.Fatalf("thumbnail %v", thumb.Bounds())
	}
	near := func(c color.Color, want color.RGBA) bool {
		r, g, b, _ := c.RGBA()
		d := func(a uint32, b uint8) bool { return int(a>>8)-int(b) < 40 && int(b)-int(a>>8) < 40 }
		return d(r, want.R) && d(g, want.G) && d(b, want.B)
	}
	// The region's bottom edge is at 120/4 = 30 on the thumbnail; the box
	// at 160..165, 90..95.
	if !near(thumb.At(100, 29), MarkRegion) || !near(thumb.At(160, 92), MarkChange) {
		t.Fatalf("marks missing: %v at the region's edge, %v at the box", thumb.At(100, 29), thumb.At(160, 92))
	}
	if !near(thumb.At(100, 60), color.RGBA{40, 40, 40, 255}) {
		t.Fatalf("the thumbnail is marked outside the outlines: %v", thumb.At(100, 60))
	}
	// A picture no wider than the thumbnail is not marked in place.
	small := image.NewGray(image.Rect(0, 0, 100, 50))
	shots.SaveLaterMarked(small, "small", Mark{image.Rect(0, 0, 100, 50), MarkRegion})
	if err := shots.Wait(); err != nil {
		t.Fatal(err)
	}
	if small.Pix[0] != 0 {
		t.Fatal("the picture itself was drawn on")
	}
}
