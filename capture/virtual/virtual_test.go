package virtual

import (
	"context"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/devicetest"
	"github.com/vpt-dev/vpt/internal/testenv"
)

func TestKeysMoveAlongEdges(t *testing.T) {
	d := New(capture.DeviceConfig{ID: "device1", Model: "virtual"}, nil, "ffmpeg")
	ctx := context.Background()
	if got := d.CurrentScreen(); got != "home" {
		t.Fatalf("starts on %q", got)
	}
	steps := []struct {
		key, want string
	}{
		{"OK", "live"}, {"INFO", "live_info"}, {"BACK", "live"}, {"HOME", "home"},
		// A two-key edge: DOWN then OK leads to apps; DOWN alone stays.
		{"DOWN", "home"}, {"OK", "apps"}, {"BACK", "home"},
		// DOWN DOWN OK leads to settings.
		{"DOWN", "home"}, {"DOWN", "home"}, {"OK", "settings"},
		// A key with no edge is ignored.
		{"RED", "settings"}, {"back", "home"},
	}
	for i, s := range steps {
		if err := d.Press(ctx, s.key); err != nil {
			t.Fatal(err)
		}
		if got := d.CurrentScreen(); got != s.want {
			t.Fatalf("step %d: after %s on %q, want %q", i, s.key, got, s.want)
		}
	}
}

func TestDroppedKeysAreSeeded(t *testing.T) {
	run := func() []string {
		d := New(capture.DeviceConfig{ID: "d", Model: "virtual", DropRate: 0.5, Seed: 7}, nil, "ffmpeg")
		var screens []string
		for i := 0; i < 20; i++ {
			_ = d.Press(context.Background(), "OK")
			_ = d.Press(context.Background(), "HOME")
			screens = append(screens, d.CurrentScreen())
		}
		p, dropped := d.Stats()
		if p != 40 || dropped == 0 || dropped == 40 {
			t.Fatalf("pressed %d, dropped %d", p, dropped)
		}
		return screens
	}
	a, b := run(), run()
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatal("the same seed dropped different presses")
	}
}

func TestKeyLatency(t *testing.T) {
	d := New(capture.DeviceConfig{ID: "d", Model: "virtual", KeyLatency: 50 * time.Millisecond}, nil, "ffmpeg")
	start := time.Now()
	if err := d.Press(context.Background(), "OK"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("no latency")
	}
}

func TestScreenshotsDiffer(t *testing.T) {
	d := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg")
	a, _ := d.Screenshot(context.Background())
	_ = d.Press(context.Background(), "OK")
	b, _ := d.Screenshot(context.Background())
	// Compare a pixel of the background: home and live have other colours.
	if a.At(640, 400) == b.At(640, 400) {
		t.Fatal("home and live render the same")
	}
}

// The device contract, the recording included; a cancelled press returns
// at once, whatever the key latency.
func TestConformance(t *testing.T) {
	testenv.NeedTools(t, "ffmpeg", "ffprobe")
	devicetest.Run(t, func(t *testing.T) capture.Device {
		return New(capture.DeviceConfig{ID: "device1", Model: "virtual"}, nil, "ffmpeg")
	}, devicetest.Caps{
		Size: image.Pt(Width, Height), Keys: true, Video: true,
		Slow: func(t *testing.T) capture.Device {
			return New(capture.DeviceConfig{ID: "d", Model: "virtual", KeyLatency: time.Hour}, nil, "ffmpeg")
		},
		SlowCalls: []string{devicetest.CallPress},
	})
}

func TestEachRunDrawsItsSeed(t *testing.T) {
	seeds := map[int64]bool{}
	for i := 0; i < 5; i++ {
		d := New(capture.DeviceConfig{ID: "d", Model: "virtual", DropRate: 0.5}, nil, "ffmpeg")
		seeds[d.Seed()] = true
	}
	if len(seeds) < 2 || seeds[0] {
		t.Fatalf("seeds %v", seeds)
	}
	if s := New(capture.DeviceConfig{ID: "d", Model: "virtual", DropRate: 0.5, Seed: 9}, nil, "ffmpeg").Seed(); s != 9 {
		t.Fatalf("configured seed 9, got %d", s)
	}
	if s := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg").Seed(); s != 0 {
		t.Fatalf("a device that drops nothing has seed %d", s)
	}
}
