package avcheck

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/sound"
	"github.com/vpt-dev/vpt/internal/tool"
)

// Analyze runs the detectors over a window of a recording. It asks
// ffprobe first what the file holds, so that a check of a stream the
// recording does not have is a clear error, not a failed filter graph.
func Analyze(ctx context.Context, ffmpeg, ffprobe, file string, o Options) (Report, error) {
	start := time.Now()
	o, err := o.WithDefaults()
	if err != nil {
		return Report{}, err
	}
	info, err := capture.Probe(ctx, ffprobe, file)
	if err != nil {
		return Report{}, err
	}
	switch {
	case o.Video && !info.HasVideo():
		return Report{}, fmt.Errorf("%w: %s has no video stream to check", ErrNoVideo, file)
	case o.Audio && !info.Audio:
		return Report{}, fmt.Errorf("%w: %s has no sound track to check (the device records no audio; for HDMI capture configure audio: with its ALSA device)", sound.ErrNoAudio, file)
	case o.Start >= info.Duration:
		return Report{}, fmt.Errorf("%w: the window starts at %s, after the recording's end (%s)", ErrOptions, o.Start, info.Duration)
	}
	window := Interval{o.Start, info.Duration}
	if o.Duration > 0 && o.Start+o.Duration < info.Duration {
		window.End = o.Start + o.Duration
	}
	cmd := exec.CommandContext(ctx, ffmpeg, Args(file, o)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if tool.Missing(err) {
			return Report{}, fmt.Errorf("%w: ffmpeg (%s) checks recordings: install it (apt-get install ffmpeg)", capture.ErrToolMissing, ffmpeg)
		}
		if ctx.Err() != nil {
			return Report{}, ctx.Err()
		}
		return Report{}, fmt.Errorf("ffmpeg could not check %s: %v: %s", file, err, lastLine(stderr.String()))
	}
	r := Parse(stderr.String(), o, window)
	r.Elapsed = time.Since(start)
	return r, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
