package sound

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/tool"
)

// ReadRate is the sample rate recordings are read at.
const ReadRate = 48000

// ReadArgs is the ffmpeg command that decodes a recording's first sound
// track from start, for dur (0: to the end), to 32-bit float PCM on
// stdout, at rate with the given channels.
func ReadArgs(file string, start, dur time.Duration, rate, channels int) []string {
	a := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	if start > 0 {
		a = append(a, "-ss", seconds(start))
	}
	if dur > 0 {
		a = append(a, "-t", seconds(dur))
	}
	return append(a, "-i", file, "-map", "0:a:0", "-vn", "-ac", strconv.Itoa(channels),
		"-ar", strconv.Itoa(rate), "-f", "f32le", "pipe:1")
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// maxRead bounds what ReadFile holds in memory: an hour of stereo.
const maxRead = time.Hour

// ReadFile reads a recording's sound (its first track, in its own
// channels) over a window. Errors: ErrNoAudio for a recording without
// sound, capture.ErrToolMissing without ffmpeg.
func ReadFile(ctx context.Context, ffmpeg, ffprobe, file string, start, dur time.Duration) (capture.Sound, error) {
	if start < 0 || dur < 0 {
		return capture.Sound{}, fmt.Errorf("%w: window from %s for %s: times cannot be negative", ErrOptions, start, dur)
	}
	if dur > maxRead {
		return capture.Sound{}, fmt.Errorf("%w: %s of sound is more than the %s read at once", ErrOptions, dur, maxRead)
	}
	info, err := capture.Probe(ctx, ffprobe, file)
	if err != nil {
		return capture.Sound{}, err
	}
	if !info.Audio {
		return capture.Sound{}, fmt.Errorf("%w: %s has no sound track (was the device recorded with audio?)", ErrNoAudio, file)
	}
	if dur == 0 && info.Duration-start > maxRead {
		return capture.Sound{}, fmt.Errorf("%w: %s of sound is more than the %s read at once: give a window", ErrOptions, info.Duration-start, maxRead)
	}
	channels := min(max(info.Channels, 1), 2)
	cmd := exec.CommandContext(ctx, ffmpeg, ReadArgs(file, start, dur, ReadRate, channels)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if tool.Missing(err) {
			return capture.Sound{}, fmt.Errorf("%w: ffmpeg (%s) reads sound: install it (apt-get install ffmpeg)", capture.ErrToolMissing, ffmpeg)
		}
		return capture.Sound{}, fmt.Errorf("ffmpeg could not read the sound of %s: %v: %s", file, err, bytes.TrimSpace(stderr.Bytes()))
	}
	raw := out.Bytes()
	samples := make([]float32, len(raw)/4)
	for i := range samples {
		samples[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return capture.Sound{Samples: samples, Rate: ReadRate, Channels: channels}, nil
}
