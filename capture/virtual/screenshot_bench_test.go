package virtual

import (
	"context"
	"testing"

	"github.com/vpt-dev/vpt/capture"
)

// BenchmarkScreenshot is a whole screenshot of the virtual device: render,
// PNG, thumbnail, files. Goal: at most 20 ms.
func BenchmarkScreenshot(b *testing.B) {
	d := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg")
	s := capture.NewShots(b.TempDir(), capture.ShotOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, err := d.Screenshot(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Save(img, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunScreenshots is the automatic screenshots of one run: a new
// device and run folder, the initial screenshot drawn and written in the
// background, the final one at once.
func BenchmarkRunScreenshots(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		d := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg")
		s := capture.NewShots(b.TempDir(), capture.ShotOptions{})
		draw, size := d.Freeze()
		s.SaveLaterFrom(draw, size, "initial")
		img, err := d.Screenshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Save(img, "final"); err != nil {
			b.Fatal(err)
		}
		if err := s.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
