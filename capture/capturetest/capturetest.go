// Package capturetest holds checks shared by the device drivers' tests.
package capturetest

import (
	"context"
	"path/filepath"
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
