package virtual

import (
	"context"
	"image"
	"testing"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/ui"
)

// The virtual device's frames are real pictures: references cut from one
// screen are found in it and not in another.
func TestMatchOnVirtualScreens(t *testing.T) {
	d := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg")
	home, _ := d.Screenshot(context.Background())
	_ = d.Press(context.Background(), "OK")
	live, _ := d.Screenshot(context.Background())
	box := image.Rect(40, 10, 440, 210) // title and first menu line
	ref := capture.Crop(home, box)

	score, at := capture.Match(home, ref, image.Rectangle{})
	if score < 0.99 || at != box.Min {
		t.Fatalf("on its own screen: score %.3f at %v, want 1 at %v", score, at, box.Min)
	}
	if score, _ := capture.Match(live, ref, image.Rectangle{}); score > 0.9 {
		t.Fatalf("found on another screen with score %.3f", score)
	}
	// A region that excludes the reference's place finds nothing good.
	if score, _ := capture.Match(home, ref, image.Rect(600, 300, 1280, 720)); score > 0.9 {
		t.Fatalf("found outside its region: %.3f", score)
	}
}

// Every screen's title bar is recognised on its own screen and on no other,
// even where two screens have close colours (Home and Settings).
func TestTitleReferencesTellScreensApart(t *testing.T) {
	u := ui.Builtin()
	shots := map[string]image.Image{}
	for _, n := range u.Nodes {
		d := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg")
		d.setScreen(n.ID)
		shots[n.ID], _ = d.Screenshot(context.Background())
	}
	title := image.Rect(0, 0, 700, 120)
	for a, imgA := range shots {
		ref := capture.Crop(imgA, title)
		for b, imgB := range shots {
			score, _ := capture.Match(imgB, ref, title)
			if a == b && score < 0.99 || a != b && score >= 0.9 {
				t.Errorf("reference of %s on %s: score %.3f", a, b, score)
			}
		}
	}
}

func BenchmarkMatch200x100(b *testing.B) {
	d := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg")
	img, _ := d.Screenshot(context.Background())
	ref := capture.Crop(img, image.Rect(50, 150, 250, 250))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		capture.Match(img, ref, image.Rectangle{})
	}
}
