package virtual

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
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
	if err := d.Press(ctx, "NOPE"); !errors.Is(err, capture.ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
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
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Press(ctx, "OK"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled press: %v", err)
	}
}

func TestScreenshotsDiffer(t *testing.T) {
	d := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg")
	a, _ := d.Screenshot(context.Background())
	_ = d.Press(context.Background(), "OK")
	b, _ := d.Screenshot(context.Background())
	if a.Bounds().Dx() != Width || a.Bounds().Dy() != Height {
		t.Fatalf("size %v", a.Bounds())
	}
	// Compare a pixel of the background: home and live have other colours.
	if a.At(640, 400) == b.At(640, 400) {
		t.Fatal("home and live render the same")
	}
}

func TestVideo(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	dir := t.TempDir()
	d := New(capture.DeviceConfig{ID: "d", Model: "virtual"}, nil, "ffmpeg")
	rec, err := d.StartVideo(context.Background(), dir, capture.DefaultVideoOptions)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(1500 * time.Millisecond)
	_ = d.Press(context.Background(), "OK")
	time.Sleep(1500 * time.Millisecond)
	if err := rec.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	out := filepath.Join(dir, "video.mp4")
	if err := capture.Finalise(context.Background(), "ffmpeg", dir, out, "copy"); err != nil {
		t.Fatal(err)
	}
	got := probeDuration(t, out)
	if diff := got - wall.Seconds(); diff > 1 || diff < -1 {
		t.Fatalf("video lasts %.2fs, the recording %.2fs", got, wall.Seconds())
	}
}

func probeDuration(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
