package sound

import (
	"context"
	"errors"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/capturetest"
	"github.com/vpt-dev/vpt/internal/golden"
)

// sine is a cosine, so a tone starts at full swing, not on a zero.
func sine(rate int, freq, amp float64, d time.Duration) []float32 {
	n := int(d.Seconds() * float64(rate))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(amp * math.Cos(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

func mono(parts ...[]float32) capture.Sound {
	var all []float32
	for _, p := range parts {
		all = append(all, p...)
	}
	return capture.Sound{Samples: all, Rate: 48000, Channels: 1}
}

// At 48 kHz the K-weighting is the one BS.1770-4 tabulates.
func TestKWeightingAt48k(t *testing.T) {
	shelf, hp := kWeighting(48000)
	want := []float64{1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585,
		1, -2, 1, -1.99004745483398, 0.99007225036621}
	got := []float64{shelf.b0, shelf.b1, shelf.b2, shelf.a1, shelf.a2, hp.b0, hp.b1, hp.b2, hp.a1, hp.a2}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-8 {
			t.Fatalf("coefficient %d: %.14f, want %.14f", i, got[i], want[i])
		}
	}
}

func TestLevels(t *testing.T) {
	s := mono(sine(48000, 1000, 0.5, time.Second))
	if got := RMS(s); math.Abs(got-(-9.03)) > 0.01 {
		t.Fatalf("RMS of a 0.5 sine: %.2f dBFS", got)
	}
	if got := Peak(s); math.Abs(got-(-6.02)) > 0.01 {
		t.Fatalf("peak: %.2f", got)
	}
	if got := RMS(mono(make([]float32, 4800))); got != MinDB {
		t.Fatalf("silence: %g", got)
	}
	// A 1 kHz sine at -20 dBFS peak is about -23 LUFS (K-weighting adds
	// 0.7 dB at 1 kHz; -0.691 and the sine's -3 dB RMS).
	l, err := MeasureLoudness(mono(sine(48000, 1000, 0.1, 5*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(l.Integrated-(-23.0)) > 0.1 || len(l.Momentary) != 47 || len(l.ShortTerm) != 21 || l.ShortTerm[0].At != 3*time.Second {
		t.Fatalf("loudness %.2f, %d momentary, %d short-term (%v)", l.Integrated, len(l.Momentary), len(l.ShortTerm), l.ShortTerm[0])
	}
	if l, _ := MeasureLoudness(mono(make([]float32, 48000))); l.Integrated != MinDB {
		t.Fatalf("silence is %g LUFS", l.Integrated)
	}
}

func TestSilencesToTheSample(t *testing.T) {
	tone := sine(48000, 440, 0.1, 500*time.Millisecond)
	s := mono(tone, make([]float32, 9600), tone, make([]float32, 4800), tone, make([]float32, 14400))
	got, err := Silences(s, SilenceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 200 ms after the first tone; the 100 ms gap is too short; 300 ms to the end.
	want := []Interval{{500 * time.Millisecond, 700 * time.Millisecond}, {1800 * time.Millisecond, 2100 * time.Millisecond}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("silences %v, want %v", got, want)
	}
	// A quiet tone below the threshold is silence too.
	if got, _ := Silences(mono(sine(48000, 440, 0.001, time.Second)), SilenceOptions{}); len(got) != 1 {
		t.Fatalf("-60 dBFS tone: %v", got)
	}
}

func TestVolumeChange(t *testing.T) {
	s := mono(sine(48000, 440, 0.05, 2*time.Second), sine(48000, 440, 0.5, time.Second))
	c, err := FindVolumeChange(s, VolumeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Found || c.Direction != Louder || c.At < 2*time.Second || c.At > 2*time.Second+DefaultVolumeWindow ||
		math.Abs(c.Before-(-29.0)) > 0.2 {
		t.Fatalf("louder: %+v", c)
	}
	if c, _ := FindVolumeChange(s, VolumeOptions{Direction: Quieter}); c.Found {
		t.Fatalf("quieter found: %+v", c)
	}
	// Silence to a tone is a change from the noise floor, not an infinite one.
	c, _ = FindVolumeChange(mono(make([]float32, 48000), sine(48000, 440, 0.1, time.Second)), VolumeOptions{})
	if !c.Found || math.Abs(c.Before-DB(DefaultNoiseFloor)) > 0.01 {
		t.Fatalf("from silence: %+v", c)
	}
}

func TestBadInput(t *testing.T) {
	for _, o := range []VolumeOptions{{Direction: "up"}, {Threshold: -1}, {Window: time.Millisecond}, {NoiseFloor: 2}} {
		if _, err := NewVolumeWatch(o); !errors.Is(err, ErrOptions) {
			t.Fatalf("%+v: %v", o, err)
		}
	}
	if _, err := Silences(mono(), SilenceOptions{MinDuration: -time.Second}); !errors.Is(err, ErrOptions) {
		t.Fatalf("negative duration: %v", err)
	}
	if _, err := Silences(capture.Sound{}, SilenceOptions{}); !errors.Is(err, ErrOptions) {
		t.Fatalf("no rate: %v", err)
	}
	if _, err := ReadFile(context.Background(), "ffmpeg", "ffprobe", "x.mp4", -time.Second, 0); !errors.Is(err, ErrOptions) {
		t.Fatalf("negative start: %v", err)
	}
}

func TestReadArgs(t *testing.T) {
	golden.Check(t, "read-window", golden.Argv(ReadArgs("video.mp4", 1500*time.Millisecond, 10*time.Second, 48000, 1)))
}

func needFFmpeg(t *testing.T) {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: apt-get install ffmpeg", tool)
		}
	}
}

// Silences of 200 ms and more in a recording (AAC) are found within 20 ms,
// and the loudness is ffmpeg's ebur128's.
func TestRecordingSound(t *testing.T) {
	needFFmpeg(t)
	dir := t.TempDir()
	clip := capturetest.Clip(t, dir, "sound.mp4",
		capturetest.Segment{Audio: "tone", Seconds: 1},
		capturetest.Segment{Audio: "silence", Seconds: 0.2},
		capturetest.Segment{Audio: "tone", Seconds: 1.2},
		capturetest.Segment{Audio: "silence", Seconds: 0.6},
		capturetest.Segment{Audio: "loud", Seconds: 4},
	)
	ctx := context.Background()
	s, err := ReadFile(ctx, "ffmpeg", "ffprobe", clip, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Silences(s, SilenceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Interval{{time.Second, 1200 * time.Millisecond}, {2400 * time.Millisecond, 3 * time.Second}}
	if len(got) != 2 {
		t.Fatalf("silences %v, want %v", got, want)
	}
	for i := range want {
		if d := got[i].Start - want[i].Start; d > 20*time.Millisecond || d < -20*time.Millisecond {
			t.Errorf("silence %d starts at %s, want %s", i, got[i].Start, want[i].Start)
		}
		if d := got[i].End - want[i].End; d > 20*time.Millisecond || d < -20*time.Millisecond {
			t.Errorf("silence %d ends at %s, want %s", i, got[i].End, want[i].End)
		}
	}
	l, err := MeasureLoudness(s)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", clip, "-map", "0:a", "-af", "ebur128", "-f", "null", "-").CombinedOutput()
	m := regexp.MustCompile(`(?s)Summary:.*?I:\s+(-?[\d.]+) LUFS`).FindAllStringSubmatch(string(out), -1)
	if len(m) == 0 {
		t.Fatalf("no ebur128 summary:\n%s", out)
	}
	ff, _ := strconv.ParseFloat(m[len(m)-1][1], 64)
	if math.Abs(l.Integrated-ff) > 0.2 {
		t.Fatalf("integrated loudness %.2f LUFS, ffmpeg says %.2f", l.Integrated, ff)
	}
	// The tone gets louder by 15 dB when the loud part starts at 3 s.
	c, err := FindVolumeChange(capture.Sound{Samples: s.Samples[int(1.5*48000):], Rate: 48000, Channels: 1}, VolumeOptions{Direction: Louder})
	if err != nil || !c.Found || c.At+1500*time.Millisecond < 3*time.Second || c.At+1500*time.Millisecond > 3*time.Second+DefaultVolumeWindow {
		t.Fatalf("volume change %+v %v", c, err)
	}
	// A recording without sound says so.
	silent := dir + "/picture-only.mp4"
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=d=1", "-c:v", "libx264", "-preset", "ultrafast", silent).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, b)
	}
	if _, err := ReadFile(ctx, "ffmpeg", "ffprobe", silent, 0, 0); !errors.Is(err, ErrNoAudio) {
		t.Fatalf("no sound track: %v", err)
	}
}
