package adb

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/capturetest"
	"github.com/vpt-dev/vpt/capture/devicetest"
	"github.com/vpt-dev/vpt/internal/golden"
	"github.com/vpt-dev/vpt/internal/testenv"
)

func TestArgv(t *testing.T) {
	c := Client{Path: "adb", Serial: "192.168.1.20:5555"}
	var all []string
	for _, argv := range [][]string{
		c.KeyEventArgs("KEYCODE_HOME"), c.TapArgs(10, 20), c.SwipeArgs(1, 2, 3, 4, 300*time.Millisecond),
		c.TextArgs(`hello world; rm -rf "x"`), c.ScreencapArgs(false), c.ScreencapArgs(true), c.ScreenrecordArgs(ScreenrecordLimit),
	} {
		all = append(all, strings.Join(argv, " "))
	}
	golden.Check(t, "argv", []byte(strings.Join(all, "\n")+"\n"))
}

func TestKeycodes(t *testing.T) {
	for in, want := range map[string]string{"HOME": "KEYCODE_HOME", "ok": "KEYCODE_DPAD_CENTER", "DPAD_UP": "KEYCODE_DPAD_UP",
		"KEYCODE_BACK": "KEYCODE_BACK", "VOLUME_UP": "KEYCODE_VOLUME_UP", "5": "KEYCODE_5", "ch_up": "KEYCODE_CHANNEL_UP",
		"APP_SWITCH": "KEYCODE_APP_SWITCH"} {
		if got, ok := capture.AndroidKeycode(in); !ok || got != want {
			t.Errorf("%s: got %s", in, got)
		}
	}
	if _, ok := capture.AndroidKeycode("bad key!"); ok {
		t.Error("accepted a bad key name")
	}
}

// standIn puts the stand-in adb first on PATH and returns its log.
func standIn(t *testing.T) string {
	t.Helper()
	testenv.NeedTools(t, "ffmpeg", "ffprobe", "python3")
	dir, _ := filepath.Abs("testdata")
	tmp := t.TempDir()
	log := filepath.Join(tmp, "adb.log")
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("ADB_STANDIN_LOG", log)
	t.Setenv("ADB_STANDIN_STATE", filepath.Join(tmp, "state"))
	return log
}

// The device contract against the stand-in; a stand-in that does not
// answer for an hour checks that every call honours its context.
func TestConformance(t *testing.T) {
	standIn(t)
	open := func(t *testing.T) capture.Device {
		return New(capture.DeviceConfig{ID: "device2", Model: "android_mobile", ADB: "emulator-5554"}, "adb", "ffmpeg")
	}
	devicetest.Run(t, open, devicetest.Caps{
		Size: image.Pt(360, 640), Keys: true, Tap: true, Text: true, Swipe: true, Video: true, Key: "HOME",
		// Any well-formed Android key name goes to the device, which alone
		// knows its keycodes; a malformed one is refused.
		UnknownKey: "bad key!",
		Slow: func(t *testing.T) capture.Device {
			t.Setenv("ADB_STANDIN_DELAY", "3600")
			return open(t)
		},
		SlowCalls: []string{devicetest.CallCheck, devicetest.CallScreenshot, devicetest.CallPress, devicetest.CallTap,
			devicetest.CallText, devicetest.CallSwipe},
	})
}

// What adb is asked: network targets connected first, both screenshot
// ways tried, the faster kept.
func TestDeviceAgainstStandIn(t *testing.T) {
	log := standIn(t)
	ctx := context.Background()
	d := New(capture.DeviceConfig{ID: "device2", Model: "android_mobile", ADB: "192.168.1.20:5555"}, "adb", "ffmpeg")
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Press(ctx, "HOME"); err != nil {
		t.Fatal(err)
	}
	if err := d.Tap(ctx, 100, 200); err != nil {
		t.Fatal(err)
	}
	if err := d.Text(ctx, "a b"); err != nil {
		t.Fatal(err)
	}
	img, err := d.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 360 || img.Bounds().Dy() != 640 {
		t.Fatalf("screenshot %v", img.Bounds())
	}
	if m := d.ScreenshotMode(); m != "raw" && m != "png" {
		t.Fatalf("mode %q", m)
	}
	got, _ := os.ReadFile(log)
	for _, want := range []string{"connect 192.168.1.20:5555", "-s 192.168.1.20:5555 get-state",
		"-s 192.168.1.20:5555 shell input keyevent KEYCODE_HOME", "shell input tap 100 200", "shell input text a%sb",
		"exec-out screencap\n", "exec-out screencap -p"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("adb was not asked %q; log:\n%s", want, got)
		}
	}
}

func TestUnreachable(t *testing.T) {
	standIn(t)
	ctx := context.Background()
	for _, target := range []string{"10.255.0.1:5555", "NOSUCHSERIAL"} {
		d := New(capture.DeviceConfig{ID: "d", Model: "android_mobile", ADB: target}, "adb", "ffmpeg")
		if err := d.Check(ctx); !errors.Is(err, capture.ErrUnreachable) {
			t.Errorf("%s: %v", target, err)
		}
	}
	d := New(capture.DeviceConfig{ID: "d", Model: "android_mobile", ADB: "x"}, "/no/such/adb", "ffmpeg")
	if err := d.Check(ctx); !errors.Is(err, capture.ErrToolMissing) {
		t.Errorf("missing adb: %v", err)
	}
}

// The video pipeline runs for real: H.264 from (stand-in) screenrecord,
// restarted at its limit, cut into HLS segments by ffmpeg, remuxed to MP4.
func TestVideoAcrossScreenrecordRestarts(t *testing.T) {
	log := standIn(t)
	dir := t.TempDir()
	d := New(capture.DeviceConfig{ID: "d", Model: "android_mobile", ADB: "emulator-5554", ScreenrecordLimit: 2 * time.Second}, "adb", "ffmpeg")
	rec, err := d.StartVideo(context.Background(), dir, capture.DefaultVideoOptions)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec.(*recorder).started:
	default:
		t.Fatal("StartVideo returned before screenrecord sent a picture: the run's first second would be missing")
	}
	start := time.Now()
	// Three pieces of 2 s: a loaded machine starts each later, so the test
	// waits for the third rather than for a fixed time.
	for !rec.(*recorder).restartedTwice() || strings.Count(readFile(log), "screenrecord --output-format=h264 --time-limit 2 -") < 3 {
		if time.Since(start) > time.Minute {
			t.Fatalf("screenrecord was not restarted twice within a minute (2s limit)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if err := rec.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	capturetest.CheckVideoLength(t, dir, wall)
	b, _ := os.ReadFile(log)
	if strings.Count(string(b), "screenrecord --output-format=h264 --time-limit 2 -") < 3 {
		t.Fatalf("log:\n%s", b)
	}
}

func TestDecodeRaw(t *testing.T) {
	if _, err := DecodeRaw([]byte{1, 2, 3}); err == nil {
		t.Fatal("short input accepted")
	}
	b := make([]byte, 12+2*2*4)
	b[0], b[4], b[8] = 2, 2, 1
	img, err := DecodeRaw(b)
	if err != nil || img.Bounds().Dx() != 2 {
		t.Fatalf("%v %v", img, err)
	}
}

// restartedTwice tells whether screenrecord has run three times.
func (r *recorder) restartedTwice() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pieces >= 3
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
