package picture

import (
	"context"
	"errors"
	"image"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/capturetest"
)

func needFFmpeg(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is needed: apt-get install ffmpeg")
	}
}

var epoch = time.Unix(0, 0)

// watchInput decodes an ffmpeg input to grey frames of size at the clip
// rate and watches them all.
func watchInput(t *testing.T, size image.Point, o WatchOptions, input ...string) Summary {
	t.Helper()
	ctx := context.Background()
	r, err := capture.DecodeFrames(ctx, "ffmpeg", capture.DecodeOptions{Input: input, Width: size.X, Height: size.Y, FPS: capturetest.ClipFPS, Base: epoch})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := NewWatch(o)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for {
		f, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Add(f); err != nil {
			t.Fatal(err)
		}
		last = f.Time
	}
	return w.Summary(last.Add(time.Second / capturetest.ClipFPS))
}

const frame = time.Second / capturetest.ClipFPS

// within checks an interval against the expected seconds, to one frame.
func within(t *testing.T, what string, got Interval, start, end float64) {
	t.Helper()
	s, e := got.Start.Sub(epoch), got.End.Sub(epoch)
	ws, we := time.Duration(start*float64(time.Second)), time.Duration(end*float64(time.Second))
	if d := s - ws; d > frame || d < -frame {
		t.Errorf("%s starts at %s, want %s ± one frame", what, s, ws)
	}
	if d := e - we; d > frame || d < -frame {
		t.Errorf("%s ends at %s, want %s ± one frame", what, e, we)
	}
}

// Black stretches of 0.6 and 1.2 s and a 1 s freeze, through H.264, are
// found within a frame; black is reported as black, not as frozen.
func TestClipBoundaries(t *testing.T) {
	needFFmpeg(t)
	clip := capturetest.Clip(t, t.TempDir(), "clip.mp4",
		capturetest.Segment{Video: "moving", Seconds: 2},
		capturetest.Segment{Video: "black", Seconds: 0.6},
		capturetest.Segment{Video: "moving", Seconds: 2},
		capturetest.Segment{Video: "frozen", Seconds: 1},
		capturetest.Segment{Video: "moving", Seconds: 2},
		capturetest.Segment{Video: "black", Seconds: 1.2},
		capturetest.Segment{Video: "moving", Seconds: 1.4},
	)
	s := watchInput(t, image.Pt(1280, 720), WatchOptions{Freeze: 900 * time.Millisecond}, "-i", clip)
	if len(s.Black) != 2 || len(s.Frozen) != 1 {
		t.Fatalf("black %v, frozen %v", s.Black, s.Frozen)
	}
	within(t, "black 1", s.Black[0], 2, 2.6)
	within(t, "black 2", s.Black[1], 7.6, 8.8)
	within(t, "freeze", s.Frozen[0], 4.6, 5.6)
	// 255 frames; of the 254 pairs, 14 + 24 + 29 inside the still parts.
	if s.Frames != 255 || s.MotionRatio < 0.72 || s.MotionRatio > 0.75 {
		t.Fatalf("%d frames, motion ratio %.3f (want 255 frames, 187 of 254 moving)", s.Frames, s.MotionRatio)
	}
}

// A minute of moving test picture is never black or frozen, and moves in
// every frame; a dark picture with a lit tenth is not black either. (The
// minute is watched at 640x360: the decisions are ratios of the picture,
// and a quarter of the pixels keeps the race detector's run short.)
func TestNoFalsePositives(t *testing.T) {
	needFFmpeg(t)
	s := watchInput(t, image.Pt(640, 360), WatchOptions{Freeze: 500 * time.Millisecond}, "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25:d=60")
	if s.Frames != 1500 || len(s.Black) != 0 || len(s.Frozen) != 0 || s.MotionRatio != 1 {
		t.Fatalf("60 s of testsrc2: %d frames, black %v, frozen %v, motion %.4f", s.Frames, s.Black, s.Frozen, s.MotionRatio)
	}
	clip := capturetest.Clip(t, t.TempDir(), "dark.mp4", capturetest.Segment{Video: "dark", Seconds: 2})
	s = watchInput(t, image.Pt(1280, 720), WatchOptions{}, "-i", clip)
	if s.Frames != 50 || len(s.Black) != 0 {
		t.Fatalf("90%%-dark clip: %d frames, black %v", s.Frames, s.Black)
	}
}
