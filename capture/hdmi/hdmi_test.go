package hdmi

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/devicetest"
	"github.com/vpt-dev/vpt/internal/golden"
	"github.com/vpt-dev/vpt/internal/testenv"
)

func TestCaptureArgv(t *testing.T) {
	src := Source(capture.DeviceConfig{Video: "/dev/video0", Audio: "plughw:1,0", FPS: 10})
	golden.Check(t, "v4l2-record", golden.Argv(capture.CaptureArgs("/run/x/video", src, capture.DefaultVideoOptions, 5, true, 0)))
	golden.Check(t, "v4l2-frames", golden.Argv(capture.CaptureArgs("/tmp/frames", src, capture.DefaultVideoOptions, 5, false, 0)))
	golden.Check(t, "v4l2-record-grey", golden.Argv(capture.CaptureArgs("/run/x/video", src, capture.DefaultVideoOptions, 5, true, 25)))
	golden.Check(t, "v4l2-shots-grey", golden.Argv(capture.CaptureArgs("/tmp/frames", src, capture.DefaultVideoOptions, 5, false, 10)))
	lavfi := Source(capture.DeviceConfig{Video: "lavfi:testsrc2=size=1280x720:rate=10"})
	golden.Check(t, "lavfi-record", golden.Argv(capture.CaptureArgs("/run/x/video", lavfi, capture.DefaultVideoOptions, 5, true, 0)))
	golden.Check(t, "finalise", golden.Argv(capture.FinaliseArgs("/run/x/video.mp4.part", "copy")))
	golden.Check(t, "finalise-medium", golden.Argv(capture.FinaliseArgs("/run/x/video.mp4.part", "medium")))
}

// irStandIn puts a stand-in ir-ctl first on PATH (there is no IR blaster
// on this machine): it appends what it was asked to send to the log it
// returns, after sleeping $IR_STANDIN_DELAY seconds when set. lirc is the
// blaster's device file.
func irStandIn(t *testing.T) (log, lirc string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "ir.log")
	script := "#!/bin/sh\n[ -z \"$IR_STANDIN_DELAY\" ] || exec sleep \"$IR_STANDIN_DELAY\"\n" +
		"echo \"$@\" >> " + log + "\nfor a; do case $a in --send=*) cat \"${a#--send=}\" >> " + log + ";; esac; done\n"
	if err := os.WriteFile(filepath.Join(dir, "ir-ctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	lirc = filepath.Join(dir, "lirc0")
	if err := os.WriteFile(lirc, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return log, lirc
}

func open(t *testing.T, cfg capture.DeviceConfig) capture.Device {
	t.Helper()
	d, err := New(cfg, capture.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The device contract on the pipeline a capture card feeds, fed by
// ffmpeg's moving test source, with keys by IR; a blaster that does not
// return checks that keys honour their context. (The pipeline's
// screenshots are checked waiting on a display that does not answer, in
// the host driver's test: ffmpeg's test sources cannot withhold pictures
// without spinning.)
func TestConformanceIR(t *testing.T) {
	testenv.NeedTools(t, "ffmpeg", "ffprobe")
	_, lirc := irStandIn(t)
	cfg := capture.DeviceConfig{ID: "stb", Model: "stb", Video: "lavfi:testsrc2=size=1280x720:rate=10",
		IR: capture.IRConfig{Device: lirc, Keymap: "samsung"}}
	devicetest.Run(t, func(t *testing.T) capture.Device { return open(t, cfg) }, devicetest.Caps{
		Size: image.Pt(1280, 720), Keys: true, Video: true, Key: "POWER",
		Slow: func(t *testing.T) capture.Device {
			t.Setenv("IR_STANDIN_DELAY", "3600")
			d := open(t, cfg)
			t.Cleanup(func() { d.Close() })
			return d
		},
		SlowCalls: []string{devicetest.CallPress},
	})
}

// The contract with keys, taps and text through ADB (an Android TV stick
// behind the card), the stand-in adb answering.
func TestConformanceADB(t *testing.T) {
	testenv.NeedTools(t, "ffmpeg", "ffprobe", "python3")
	standIn, _ := filepath.Abs("../adb/testdata")
	t.Setenv("PATH", standIn+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("ADB_STANDIN_STATE", filepath.Join(t.TempDir(), "state"))
	cfg := capture.DeviceConfig{ID: "stick", Model: "android_tv", Video: "lavfi:testsrc2=size=640x360:rate=10", ADB: "emulator-5554"}
	devicetest.Run(t, func(t *testing.T) capture.Device { return open(t, cfg) }, devicetest.Caps{
		Size: image.Pt(640, 360), Keys: true, Tap: true, Text: true, Video: true, UnknownKey: "bad key!",
	})
}

// Screenshots before any recording start a frames-only pipeline, which
// recording replaces: the picture keeps moving throughout.
func TestPipelineWithTestSource(t *testing.T) {
	testenv.NeedTools(t, "ffmpeg")
	d := open(t, capture.DeviceConfig{ID: "stb", Model: "stb", Video: "lavfi:testsrc2=size=1280x720:rate=10"})
	defer d.Close()
	ctx := context.Background()
	if _, err := d.Screenshot(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := d.StartVideo(ctx, t.TempDir(), capture.DefaultVideoOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Stop(ctx)
	time.Sleep(500 * time.Millisecond)
	a, err := d.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	b, err := d.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if score, _ := capture.Match(b, capture.Crop(a, image.Rect(0, 0, 1280, 720)), image.Rectangle{}); score > 0.999 {
		t.Fatal("the picture did not change in 3 seconds of a moving test source")
	}
}

func TestMissingCard(t *testing.T) {
	d, err := New(capture.DeviceConfig{ID: "stb", Model: "stb", Video: "/dev/video97"}, capture.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Check(context.Background()); !errors.Is(err, capture.ErrUnreachable) {
		t.Fatalf("missing card: %v", err)
	}
	if err := d.Press(context.Background(), "OK"); !errors.Is(err, capture.ErrNotSupported) {
		t.Fatalf("keys without IR or ADB: %v", err)
	}
}

func TestIRKeys(t *testing.T) {
	log, lirc := irStandIn(t)
	d := open(t, capture.DeviceConfig{ID: "stb", Model: "stb", Video: "lavfi:testsrc2",
		IR: capture.IRConfig{Device: lirc, Keymap: "samsung"}})
	if err := d.Press(context.Background(), "POWER"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	golden.Check(t, "ir-ctl-power", []byte(stable(string(b), filepath.Dir(log))))
}

var sendFileRe = regexp.MustCompile(`--send=\S+`)

// stable replaces the parts of the log that change between runs.
func stable(s, dir string) string {
	return sendFileRe.ReplaceAllLiteralString(strings.ReplaceAll(s, dir, "$TMP"), "--send=$SENDFILE")
}

// A source ffmpeg cannot open: the screenshot says so, recording fails at
// once instead of leaving an empty video, and closing does not hang on the
// ffmpeg that already ended.
func TestDeadSource(t *testing.T) {
	testenv.NeedTools(t, "ffmpeg")
	d, err := New(capture.DeviceConfig{ID: "stb", Model: "stb", Video: "lavfi:nosuchsource"}, capture.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := d.Screenshot(ctx); !errors.Is(err, capture.ErrUnreachable) {
			t.Errorf("screenshot of a dead source: %v", err)
		}
		if _, err := d.StartVideo(ctx, t.TempDir(), capture.DefaultVideoOptions); !errors.Is(err, capture.ErrUnreachable) {
			t.Errorf("recording a dead source: %v", err)
		}
		d.Close()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("hangs on an ffmpeg that has ended")
	}
}

// The pipeline's live grey frames: in order, at the source's rate, the
// source's picture; they go on (after a short gap) when a recording
// restarts ffmpeg.
func TestPipelineFrames(t *testing.T) {
	testenv.NeedTools(t, "ffmpeg")
	ctx := context.Background()
	d, err := New(capture.DeviceConfig{ID: "stb", Model: "stb", Video: "lavfi:testsrc2=size=1280x720:rate=10"}, capture.Environment{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fs, err := capture.FramesOf(d)
	if err != nil {
		t.Fatal(err)
	}
	r, err := fs.Frames(ctx, capture.FrameOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := func(n int) []capture.Frame {
		var out []capture.Frame
		for i := 0; i < n; i++ {
			f, err := r.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		}
		return out
	}
	frames := read(10)
	if r.FPS() != 10 || frames[0].Image.Rect != image.Rect(0, 0, 1280, 720) {
		t.Fatalf("%d fps, size %v", r.FPS(), frames[0].Image.Rect)
	}
	for i := 1; i < len(frames); i++ {
		if frames[i].Seq <= frames[i-1].Seq || !frames[i].Time.After(frames[i-1].Time) {
			t.Fatalf("frame %d: seq %d after %d", i, frames[i].Seq, frames[i-1].Seq)
		}
		if bytes := frames[i].Image.Pix; string(bytes) == string(frames[i-1].Image.Pix) {
			t.Fatalf("frame %d is the one before: testsrc2 moves", i)
		}
	}
	rec, err := d.StartVideo(ctx, t.TempDir(), capture.DefaultVideoOptions)
	if err != nil {
		t.Fatal(err)
	}
	after := read(5)
	if after[0].Seq <= frames[9].Seq {
		t.Fatalf("frames after the restart: seq %d", after[0].Seq)
	}
	if err := rec.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := capture.AudioOf(d); !errors.Is(err, capture.ErrNotSupported) || !strings.Contains(err.Error(), "device stb (hdmi) gives no live sound") {
		t.Fatalf("audio of a capture card: %v", err)
	}
	if _, err := fs.Frames(ctx, capture.FrameOptions{FPS: 25}); err == nil || !strings.Contains(err.Error(), "gives 10 frames a second, not 25") {
		t.Fatalf("other rate: %v", err)
	}
}
