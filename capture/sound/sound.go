// Package sound analyses a device's sound as PCM samples (capture.Sound):
// its level (RMS in dBFS, and loudness as EBU R128 / ITU-R BS.1770
// measure it: momentary over 400 ms, short-term over 3 s, integrated),
// its silences, and a change of volume; and it reads a recording's sound
// through ffmpeg.
//
// Levels are in dBFS where a full-scale square wave is 0 and a full-scale
// sine −3 (ffmpeg's astats convention); digital silence is MinDB, not
// minus infinity, so levels stay numbers in JSON. Times are offsets from
// the first sample of the stretch analysed.
package sound

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// MinDB is the level of digital silence.
const MinDB = -120.0

// ErrOptions: an option is out of range.
var ErrOptions = errors.New("bad sound option")

// ErrNoAudio: a recording or device has no sound.
var ErrNoAudio = errors.New("no sound")

// DB converts an amplitude (RMS or peak, 0..1) to dBFS.
func DB(amplitude float64) float64 {
	if amplitude <= 0 {
		return MinDB
	}
	return max(MinDB, 20*math.Log10(amplitude))
}

// Amplitude converts dBFS to an amplitude.
func Amplitude(db float64) float64 { return math.Pow(10, db/20) }

func check(s capture.Sound) error {
	if s.Rate <= 0 || s.Channels <= 0 {
		return fmt.Errorf("%w: sound at %d Hz with %d channels", ErrOptions, s.Rate, s.Channels)
	}
	return nil
}

// RMS is the level of the whole stretch, all channels together, in dBFS.
func RMS(s capture.Sound) float64 {
	if len(s.Samples) == 0 {
		return MinDB
	}
	var sum float64
	for _, v := range s.Samples {
		sum += float64(v) * float64(v)
	}
	return DB(math.Sqrt(sum / float64(len(s.Samples))))
}

// Peak is the highest sample's level in dBFS.
func Peak(s capture.Sound) float64 {
	var p float64
	for _, v := range s.Samples {
		p = max(p, math.Abs(float64(v)))
	}
	return DB(p)
}

// Interval is a stretch of the sound, as offsets from its first sample.
type Interval struct {
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
}

// Duration is how long it lasts.
func (i Interval) Duration() time.Duration { return i.End - i.Start }

// SilenceOptions say what counts as silence. Zero values take the defaults.
type SilenceOptions struct {
	// Threshold: a sample is quiet at or below this level in dBFS (peak);
	// default -50 dBFS, upstream's silence level.
	Threshold float64
	// MinDuration: quiet stretches shorter than this are not silences
	// (default 200 ms: the pause between words is shorter).
	MinDuration time.Duration
}

// Defaults of silence detection.
const (
	DefaultSilenceThreshold = -50.0
	DefaultMinSilence       = 200 * time.Millisecond
)

// Silences finds the stretches where every channel stays at or below the
// threshold for at least MinDuration, to the sample, as ffmpeg's
// silencedetect does. A silence still going at the end ends there.
func Silences(s capture.Sound, o SilenceOptions) ([]Interval, error) {
	if err := check(s); err != nil {
		return nil, err
	}
	if o.Threshold == 0 {
		o.Threshold = DefaultSilenceThreshold
	}
	if o.MinDuration == 0 {
		o.MinDuration = DefaultMinSilence
	}
	if o.Threshold > 0 || o.MinDuration < 0 {
		return nil, fmt.Errorf("%w: silence threshold %g dBFS must be below 0 and min duration %s not negative", ErrOptions, o.Threshold, o.MinDuration)
	}
	limit := float32(Amplitude(o.Threshold))
	minFrames := int(o.MinDuration * time.Duration(s.Rate) / time.Second)
	at := func(i int) time.Duration { return time.Duration(i) * time.Second / time.Duration(s.Rate) }
	var out []Interval
	frames := len(s.Samples) / s.Channels
	if frames > 0 {
		// Sound shorter than the least silence counts a silence that
		// lasts all of it: silent sound heard for 0.1 s is silent.
		minFrames = min(minFrames, frames)
	}
	start := -1
	for i := 0; i < frames; i++ {
		quiet := true
		for _, v := range s.Samples[i*s.Channels : (i+1)*s.Channels] {
			if v > limit || v < -limit {
				quiet = false
				break
			}
		}
		switch {
		case quiet && start < 0:
			start = i
		case !quiet && start >= 0:
			if i-start >= minFrames {
				out = append(out, Interval{at(start), at(i)})
			}
			start = -1
		}
	}
	if start >= 0 && frames-start >= minFrames {
		out = append(out, Interval{at(start), at(frames)})
	}
	return out, nil
}
