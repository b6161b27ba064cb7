// Package capturetest holds checks shared by the device drivers' tests.
package capturetest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// CheckVideoLength finalises the segments a recorder left in dir into
// video.mp4 with real ffmpeg and fails t unless the video lasts within a
// second of wall, the time the recording ran.
func CheckVideoLength(t *testing.T, dir string, wall time.Duration) {
	t.Helper()
	ctx := context.Background()
	out := filepath.Join(dir, "video.mp4")
	if err := capture.Finalise(ctx, "ffmpeg", dir, out, "copy"); err != nil {
		t.Fatal(err)
	}
	got, err := capture.ProbeDuration(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := got - wall; diff > time.Second || diff < -time.Second {
		t.Fatalf("video lasts %s, the recording %s", got, wall)
	}
}

// Segment is one stretch of a test clip made with ffmpeg's lavfi sources.
type Segment struct {
	// Video: moving (testsrc2), black, frozen (one frame of testsrc2,
	// mirrored so it differs from the moving parts, repeated), dark (black
	// with a moving testsrc2 over a tenth of the frame).
	Video string
	// Audio: tone (440 Hz, amplitude 1/8), loud (the tone at 0.7), silence.
	Audio   string
	Seconds float64
}

// ClipFPS and ClipSize are the test clips' frame rate and size.
const (
	ClipFPS  = 25
	ClipSize = "1280x720"
)

// Clip writes segments one after the other into dir/name (H.264 and AAC
// in MP4, the form of a run's recording), and returns its path. Segment
// boundaries are exact: at 25 fps and 48 kHz every boundary on a 40 ms
// step falls on a frame and a sample.
func Clip(t testing.TB, dir, name string, segs ...Segment) string {
	t.Helper()
	var inputs, chains, pads []string
	for i, s := range segs {
		d := fmt.Sprintf("%g", s.Seconds)
		v := fmt.Sprintf("testsrc2=s=%s:r=%d:d=%s", ClipSize, ClipFPS, d)
		switch s.Video {
		case "black":
			v = fmt.Sprintf("color=c=black:s=%s:r=%d:d=%s", ClipSize, ClipFPS, d)
		case "frozen":
			v = fmt.Sprintf("testsrc2=s=%s:r=%d:d=0.04,hflip,tpad=stop_mode=clone:stop_duration=%g", ClipSize, ClipFPS, s.Seconds-0.04)
		case "dark":
			v = fmt.Sprintf("color=c=black:s=%s:r=%d:d=%s[bg%d];testsrc2=s=404x228:r=%d:d=%s[fg%d];[bg%d][fg%d]overlay=20:20", ClipSize, ClipFPS, d, i, ClipFPS, d, i, i, i)
		case "moving", "":
		default:
			t.Fatalf("clip: unknown video %q", s.Video)
		}
		a := fmt.Sprintf("sine=f=440:r=48000:d=%s", d)
		switch s.Audio {
		case "silence":
			a = fmt.Sprintf("anullsrc=r=48000:cl=mono,atrim=duration=%s", d)
		case "loud":
			a += ",volume=5.6"
		case "tone", "":
		default:
			t.Fatalf("clip: unknown audio %q", s.Audio)
		}
		chains = append(chains, fmt.Sprintf("%s,format=yuv420p,setsar=1[v%d]", v, i),
			fmt.Sprintf("%s,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=mono[a%d]", a, i))
		pads = append(pads, fmt.Sprintf("[v%d][a%d]", i, i))
	}
	graph := strings.Join(chains, ";") + ";" + strings.Join(pads, "") + fmt.Sprintf("concat=n=%d:v=1:a=1[v][a]", len(segs))
	out := filepath.Join(dir, name)
	args := append([]string{"-hide_banner", "-loglevel", "error", "-y"}, inputs...)
	args = append(args, "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", strconv.Itoa(2*ClipFPS), "-c:a", "aac", "-b:a", "96k", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("clip: ffmpeg %v: %v\n%s", args, err, b)
	}
	return out
}
