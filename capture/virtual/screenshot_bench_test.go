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
