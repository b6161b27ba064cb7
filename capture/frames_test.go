package capture_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/adb"
	"github.com/vpt-dev/vpt/capture/virtual"
	"github.com/vpt-dev/vpt/internal/golden"
)

func TestSources(t *testing.T) {
	v := virtual.New(capture.DeviceConfig{ID: "device1", Model: "virtual"}, nil, "ffmpeg")
	if _, err := capture.FramesOf(v); err != nil {
		t.Fatal(err)
	}
	if _, err := capture.AudioOf(v); err != nil {
		t.Fatal(err)
	}
	phone := adb.New(capture.DeviceConfig{ID: "phone", Model: "android_mobile", ADB: "emulator-5554"}, "adb", "ffmpeg")
	if _, err := capture.FramesOf(phone); !errors.Is(err, capture.ErrNotSupported) || !strings.Contains(err.Error(), "device phone (adb) gives no live frames") {
		t.Fatalf("frames of a phone: %v", err)
	}
	if _, err := capture.AudioOf(phone); !errors.Is(err, capture.ErrNotSupported) || !strings.Contains(err.Error(), "device phone (adb) gives no live sound") {
		t.Fatalf("sound of a phone: %v", err)
	}
}

func TestCheckRegion(t *testing.T) {
	frame := image.Rect(0, 0, 1280, 720)
	if r, err := capture.CheckRegion(image.Rectangle{}, frame); err != nil || r != frame {
		t.Fatalf("whole frame: %v %v", r, err)
	}
	if r, err := capture.CheckRegion(capture.RegionOf(0, 600, 1280, 120), frame); err != nil || r.Dy() != 120 {
		t.Fatalf("bottom band: %v %v", r, err)
	}
	for region, msg := range map[image.Rectangle]string{
		capture.RegionOf(1200, 0, 100, 10): "region [1200, 0, 100, 10] is outside the 1280x720 frame",
		capture.RegionOf(10, 10, 0, 10):    "region [10, 10, 0, 10] has no area",
		capture.RegionOf(10, 10, 20, -5):   "region [10, 10, 20, -5] has no area",
		capture.RegionOf(-1, 0, 10, 10):    "outside the 1280x720 frame",
	} {
		if _, err := capture.CheckRegion(region, frame); !errors.Is(err, capture.ErrRegion) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%v: %v", region, err)
		}
	}
}

func TestDecodeArgs(t *testing.T) {
	golden.Check(t, "decode-window", golden.Argv(capture.DecodeArgs(capture.DecodeOptions{
		Input: []string{"-ss", "12.5", "-t", "10", "-i", "video.mp4"}, Width: 320, Height: 180, FPS: 25})))
	golden.Check(t, "probe", golden.Argv(capture.ProbeArgs("video.mp4")))
	golden.Check(t, "raw-video-audio", golden.Argv(capture.RawVideoArgs("/run/x/video", 1280, 720, capture.DefaultVideoOptions, 48000)))
	if _, err := capture.DecodeFrames(context.Background(), "ffmpeg", capture.DecodeOptions{Input: []string{"-i", "x"}}); err == nil ||
		!strings.Contains(err.Error(), "give a positive size and rate") {
		t.Fatalf("no size: %v", err)
	}
}

func TestGrayOf(t *testing.T) {
	rgba := image.NewRGBA(image.Rect(10, 10, 14, 12))
	rgba.Set(10, 10, color.RGBA{255, 255, 255, 255})
	rgba.Set(11, 10, color.RGBA{255, 0, 0, 255})
	g := capture.GrayOf(rgba)
	if g.Rect != image.Rect(0, 0, 4, 2) || g.Pix[0] != 255 || g.Pix[1] != 76 || g.Pix[2] != 0 {
		t.Fatalf("grey %v %v", g.Rect, g.Pix)
	}
	if capture.GrayOf(g) != g {
		t.Fatal("a grey picture is copied")
	}
	n := capture.GrayOf(image.NewNRGBA(image.Rect(0, 0, 2, 2)))
	if n.Rect.Dx() != 2 {
		t.Fatal(n.Rect)
	}
}
