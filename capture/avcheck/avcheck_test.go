package avcheck

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture/capturetest"
	"github.com/vpt-dev/vpt/capture/sound"
	"github.com/vpt-dev/vpt/internal/golden"
)

func defaults(t *testing.T, o Options) Options {
	t.Helper()
	o, err := o.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestArgs(t *testing.T) {
	both := defaults(t, Options{Start: 1500 * time.Millisecond, Duration: 10 * time.Minute, Video: true, Audio: true})
	golden.Check(t, "both-window", golden.Argv(Args("video.mp4", both)))
	golden.Check(t, "video", golden.Argv(Args("video.mp4", defaults(t, Options{Video: true, MinFreeze: 500 * time.Millisecond}))))
	golden.Check(t, "audio", golden.Argv(Args("video.mp4", defaults(t, Options{Audio: true, SilenceThreshold: -60}))))
}

// A log ffmpeg 5.1 wrote for a window starting at 2 s: the summary of a
// first, unused filter graph is ignored, the open freeze ends with the
// window, black is not frozen.
func TestParse(t *testing.T) {
	log, err := os.ReadFile("testdata/ffmpeg-5.1.log")
	if err != nil {
		t.Fatal(err)
	}
	o := defaults(t, Options{Video: true, Audio: true, MinFreeze: 500 * time.Millisecond})
	r := Parse(string(log), o, Interval{2 * time.Second, 8 * time.Second})
	s := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	if len(r.Black) != 1 || r.Black[0] != (Interval{s(3), s(6)}) {
		t.Fatalf("black %v", r.Black)
	}
	if len(r.Frozen) != 1 || r.Frozen[0] != (Interval{s(6), s(8)}) {
		t.Fatalf("frozen %v", r.Frozen)
	}
	if len(r.Silent) != 1 || r.Silent[0] != (Interval{s(3), s(6.00004)}) {
		t.Fatalf("silent %v", r.Silent)
	}
	l := r.Loudness
	if l.Integrated != -22.0 || l.Range != 9.8 || l.Peak != -17.5 || l.MaxMomentary != -21.1 || l.MaxShortTerm != -23.6 || len(l.ShortTerm) != 6 {
		t.Fatalf("loudness %+v", l)
	}
	if r.MotionRatio < 0.1666 || r.MotionRatio > 0.1667 {
		t.Fatalf("motion ratio %g", r.MotionRatio)
	}
}

func TestJudge(t *testing.T) {
	r := Report{Video: true, Audio: true,
		Black:  []Interval{{0, 500 * time.Millisecond}, {10 * time.Second, 13 * time.Second}},
		Frozen: []Interval{{20 * time.Second, 25 * time.Second}},
		Silent: []Interval{{30 * time.Second, 36 * time.Second}}}
	v := r.Judge(DefaultLimits)
	if v.Passed || len(v.Problems) != 2 ||
		v.Problems[0] != "the picture was black for 3s from 10s (at most 2s allowed)" ||
		v.Problems[1] != "the sound was silent for 6s from 30s (at most 5s allowed)" {
		t.Fatalf("verdict %+v", v)
	}
	if v := r.Judge(Limits{MaxBlack: -1, MaxFreeze: 5 * time.Second, MaxSilence: -1}); !v.Passed {
		t.Fatalf("unchecked limits: %+v", v)
	}
	r.Audio = false
	if v := r.Judge(Limits{MaxBlack: 5 * time.Second, MaxFreeze: time.Second}); v.Passed || len(v.Problems) != 1 || !strings.Contains(v.Problems[0], "frozen for 5s") {
		t.Fatalf("video only: %+v", v)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{}, {Video: true, Start: -time.Second}, {Audio: true, MinSilence: -time.Second},
		{Video: true, BlackRatio: 2}, {Audio: true, SilenceThreshold: 3}} {
		if _, err := o.WithDefaults(); !errors.Is(err, ErrOptions) {
			t.Fatalf("%+v: %v", o, err)
		}
	}
}

func needFFmpeg(t *testing.T) {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: apt-get install ffmpeg", tool)
		}
	}
}

const frame = time.Second / capturetest.ClipFPS

func near(t *testing.T, what string, got Interval, start, end float64, tol time.Duration) {
	t.Helper()
	ws, we := time.Duration(start*float64(time.Second)), time.Duration(end*float64(time.Second))
	if d := got.Start - ws; d > tol || d < -tol {
		t.Errorf("%s starts at %s, want %s ± %s", what, got.Start, ws, tol)
	}
	if d := got.End - we; d > tol || d < -tol {
		t.Errorf("%s ends at %s, want %s ± %s", what, got.End, we, tol)
	}
}

// The detectors on a recording with known boundaries: black of 0.6 s and
// more and a freeze of 1.2 s within a frame, silences of 200 ms and more
// within 20 ms, black not counted as frozen, a window that starts late.
func TestAnalyzeClip(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	clip := capturetest.Clip(t, dir, "clip.mp4",
		capturetest.Segment{Video: "moving", Audio: "tone", Seconds: 2},
		capturetest.Segment{Video: "black", Audio: "silence", Seconds: 0.6},
		capturetest.Segment{Video: "moving", Audio: "tone", Seconds: 2},
		capturetest.Segment{Video: "frozen", Audio: "silence", Seconds: 1.2},
		capturetest.Segment{Video: "moving", Audio: "tone", Seconds: 1},
		capturetest.Segment{Video: "black", Audio: "tone", Seconds: 2.4},
		capturetest.Segment{Video: "moving", Audio: "loud", Seconds: 1},
	)
	ctx := context.Background()
	r, err := Analyze(ctx, "ffmpeg", "ffprobe", clip, Options{Video: true, Audio: true, MinFreeze: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Black) != 2 || len(r.Frozen) != 1 || len(r.Silent) != 2 {
		t.Fatalf("black %v, frozen %v, silent %v", r.Black, r.Frozen, r.Silent)
	}
	near(t, "black 1", r.Black[0], 2, 2.6, frame)
	near(t, "black 2", r.Black[1], 6.8, 9.2, frame)
	near(t, "freeze", r.Frozen[0], 4.6, 5.8, frame)
	near(t, "silence 1", r.Silent[0], 2, 2.6, 20*time.Millisecond)
	near(t, "silence 2", r.Silent[1], 4.6, 5.8, 20*time.Millisecond)
	if r.Window != (Interval{0, r.Window.End}) || r.Window.End < 10*time.Second || r.Loudness.MaxMomentary < -10 {
		t.Fatalf("window %v, loudness %+v", r.Window, r.Loudness)
	}
	v := r.Judge(Limits{MaxBlack: 2 * time.Second, MaxFreeze: time.Second, MaxSilence: 5 * time.Second})
	if v.Passed || len(v.Problems) != 2 || !strings.Contains(v.Problems[0], "black for 2.4s from 6.8s") || !strings.Contains(v.Problems[1], "frozen for 1.2s from 4.6s") {
		t.Fatalf("verdict %+v", v)
	}
	// A window from 3 s for 4 s: offsets stay the recording's.
	r, err = Analyze(ctx, "ffmpeg", "ffprobe", clip, Options{Start: 3 * time.Second, Duration: 4 * time.Second, Video: true, MinFreeze: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Black) != 1 || len(r.Frozen) != 1 || r.Loudness != nil || r.Window != (Interval{3 * time.Second, 7 * time.Second}) {
		t.Fatalf("window: %+v", r)
	}
	near(t, "black in window", r.Black[0], 6.8, 7, frame)
	near(t, "freeze in window", r.Frozen[0], 4.6, 5.8, frame)
}

// No false positives: a minute of moving test picture with a tone, and a
// picture 90% dark with a moving tenth.
func TestNoFalsePositives(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	clip := capturetest.Clip(t, dir, "minute.mp4", capturetest.Segment{Video: "moving", Audio: "tone", Seconds: 60})
	r, err := Analyze(context.Background(), "ffmpeg", "ffprobe", clip, Options{Video: true, Audio: true, MinFreeze: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Black)+len(r.Frozen)+len(r.Silent) != 0 || r.MotionRatio != 1 || !r.Judge(Limits{}).Passed {
		t.Fatalf("a minute of testsrc2: %+v", r)
	}
	dark := capturetest.Clip(t, dir, "dark.mp4", capturetest.Segment{Video: "dark", Seconds: 3})
	if r, err := Analyze(context.Background(), "ffmpeg", "ffprobe", dark, Options{Video: true}); err != nil || len(r.Black) != 0 {
		t.Fatalf("90%%-dark: %v %v", r.Black, err)
	}
}

func TestRecordingWithoutSound(t *testing.T) {
	needFFmpeg(t)
	file := filepath.Join(t.TempDir(), "picture-only.mp4")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=d=1", "-c:v", "libx264", "-preset", "ultrafast", file).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, b)
	}
	ctx := context.Background()
	if _, err := Analyze(ctx, "ffmpeg", "ffprobe", file, Options{Video: true, Audio: true}); !errors.Is(err, sound.ErrNoAudio) ||
		!strings.Contains(err.Error(), "has no sound track to check") {
		t.Fatalf("no sound: %v", err)
	}
	if _, err := Analyze(ctx, "ffmpeg", "ffprobe", file, Options{Video: true, Start: time.Minute}); !errors.Is(err, ErrOptions) {
		t.Fatalf("window after the end: %v", err)
	}
	if r, err := Analyze(ctx, "ffmpeg", "ffprobe", file, Options{Video: true}); err != nil || r.MotionRatio != 1 {
		t.Fatalf("picture only: %+v %v", r, err)
	}
}

// ebur128 prints nan for what it could not measure: the report stays
// numbers (result.json cannot hold NaN).
func TestParseNotANumber(t *testing.T) {
	log := "[Parsed_ebur128_1 @ 0x1] t: 0.1  TARGET:-23 LUFS    M: nan S: nan     I: nan LUFS       LRA:   nan LU\n" +
		"[Parsed_ebur128_1 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         nan LUFS\n" +
		"  Loudness range:\n    LRA:         nan LU\n  Sample peak:\n    Peak:      inf dBFS\n"
	o := defaults(t, Options{Audio: true})
	r := Parse(log, o, Interval{0, time.Second})
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if l := r.Loudness; l.Integrated != minLUFS || l.Range != 0 || l.Peak != minLUFS || l.MaxMomentary != minLUFS {
		t.Fatalf("loudness %+v", l)
	}
}
