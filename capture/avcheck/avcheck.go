// Package avcheck analyses a run's recording after the run (a campaign's
// check_video / check_audio): the black, frozen and silent stretches and
// the loudness of a time window of the file, found by ffmpeg's own
// detectors (blackdetect, freezedetect, silencedetect, ebur128) in one pass
// that decodes the file once; and a verdict against limits.
//
// Args builds the command, Parse reads its log, Analyze runs both; each is
// usable alone. Times are offsets in the recording. Black also counts as
// frozen for freezedetect; a Report gives black stretches as black and
// only the rest of a freeze as frozen. Errors: sound.ErrNoAudio or
// ErrNoVideo when the recording lacks what was asked for,
// capture.ErrToolMissing without ffmpeg, ErrOptions for bad options.
package avcheck

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors of the analysis.
var (
	ErrOptions = errors.New("bad recording check option")
	ErrNoVideo = errors.New("no picture")
)

// Options say what to analyse and what the detectors count. Zero values
// take the defaults.
type Options struct {
	// Start and Duration: the window of the recording (Duration 0: to the
	// end).
	Start, Duration time.Duration
	// Video and Audio: which checks run (at least one).
	Video, Audio bool
	// BlackRatio: a frame is black when this fraction of it is dark
	// (blackdetect pic_th, default 0.98).
	BlackRatio float64
	// BlackPixel: a pixel is dark at or below this fraction of the luma
	// range (blackdetect pix_th, default 0.10).
	BlackPixel float64
	// MinBlack: shorter black stretches are not found (default 100 ms: a
	// zap's gap is found).
	MinBlack time.Duration
	// FreezeNoise: frames closer than this mean difference (0..1) are the
	// same picture (freezedetect n, default 0.001, -60 dB).
	FreezeNoise float64
	// MinFreeze: shorter still stretches are not frozen (default 2 s).
	MinFreeze time.Duration
	// SilenceThreshold: sound at or below this level in dBFS is silent
	// (default -50).
	SilenceThreshold float64
	// MinSilence: shorter silences are not found (default 200 ms).
	MinSilence time.Duration
}

// Defaults of the detectors.
const (
	DefaultBlackRatio       = 0.98
	DefaultBlackPixel       = 0.10
	DefaultMinBlack         = 100 * time.Millisecond
	DefaultFreezeNoise      = 0.001
	DefaultMinFreeze        = 2 * time.Second
	DefaultSilenceThreshold = -50.0
	DefaultMinSilence       = 200 * time.Millisecond
)

// WithDefaults fills in the defaults and checks the options.
func (o Options) WithDefaults() (Options, error) {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.BlackRatio, DefaultBlackRatio)
	def(&o.BlackPixel, DefaultBlackPixel)
	def(&o.FreezeNoise, DefaultFreezeNoise)
	def(&o.SilenceThreshold, DefaultSilenceThreshold)
	defD(&o.MinBlack, DefaultMinBlack)
	defD(&o.MinFreeze, DefaultMinFreeze)
	defD(&o.MinSilence, DefaultMinSilence)
	switch {
	case !o.Video && !o.Audio:
		return o, fmt.Errorf("%w: nothing to check (ask for video, audio or both)", ErrOptions)
	case o.Start < 0 || o.Duration < 0 || o.MinBlack < 0 || o.MinFreeze < 0 || o.MinSilence < 0:
		return o, fmt.Errorf("%w: durations cannot be negative (start %s, duration %s, min black %s, min freeze %s, min silence %s)",
			ErrOptions, o.Start, o.Duration, o.MinBlack, o.MinFreeze, o.MinSilence)
	case o.BlackRatio < 0 || o.BlackRatio > 1 || o.BlackPixel < 0 || o.BlackPixel > 1 || o.FreezeNoise < 0 || o.FreezeNoise > 1:
		return o, fmt.Errorf("%w: black ratio %g, black pixel %g and freeze noise %g must be between 0 and 1", ErrOptions, o.BlackRatio, o.BlackPixel, o.FreezeNoise)
	case o.SilenceThreshold >= 0:
		return o, fmt.Errorf("%w: silence threshold %g dBFS must be below 0", ErrOptions, o.SilenceThreshold)
	}
	return o, nil
}

// Args is the one ffmpeg command that runs every detector asked for over
// the window of file and writes their findings to its log (stderr). Only
// the streams checked are decoded. o must have its defaults.
func Args(file string, o Options) []string {
	a := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"}
	if o.Start > 0 {
		a = append(a, "-ss", secs(o.Start))
	}
	if o.Duration > 0 {
		a = append(a, "-t", secs(o.Duration))
	}
	a = append(a, "-i", file)
	var graph, maps []string
	if o.Video {
		graph = append(graph, fmt.Sprintf("[0:v:0]blackdetect=d=%s:pic_th=%s:pix_th=%s,freezedetect=n=%s:d=%s[v]",
			secs(o.MinBlack), num(o.BlackRatio), num(o.BlackPixel), num(o.FreezeNoise), secs(o.MinFreeze)))
		maps = append(maps, "-map", "[v]")
	}
	if o.Audio {
		graph = append(graph, fmt.Sprintf("[0:a:0]silencedetect=n=%sdB:d=%s,ebur128=peak=sample[a]", num(o.SilenceThreshold), secs(o.MinSilence)))
		maps = append(maps, "-map", "[a]")
	}
	a = append(a, "-filter_complex", strings.Join(graph, ";"))
	a = append(a, maps...)
	return append(a, "-f", "null", "-")
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
func num(f float64) string        { return strconv.FormatFloat(f, 'f', -1, 64) }

// Interval is a stretch of the recording.
type Interval struct {
	Start time.Duration `json:"start"`
	End   time.Duration `json:"end"`
}

// Duration is how long it lasts.
func (i Interval) Duration() time.Duration { return i.End - i.Start }

func (i Interval) String() string {
	return fmt.Sprintf("%s from %s", i.Duration().Round(10*time.Millisecond), i.Start.Round(10*time.Millisecond))
}

// Loudness is the sound's level over the window, from ebur128.
type Loudness struct {
	// Integrated loudness (LUFS), loudness range (LU), sample peak (dBFS).
	Integrated float64 `json:"integrated"`
	Range      float64 `json:"range"`
	Peak       float64 `json:"peak"`
	// The loudest momentary (400 ms) and short-term (3 s) loudness.
	MaxMomentary float64 `json:"max_momentary"`
	MaxShortTerm float64 `json:"max_short_term"`
	// ShortTerm is the short-term loudness every second, for a graph.
	ShortTerm []Level `json:"short_term,omitempty"`
}

// Level is a loudness at a point of the recording.
type Level struct {
	At   time.Duration `json:"at"`
	LUFS float64       `json:"lufs"`
}

// minLUFS is the floor of the levels reported (ebur128 prints -120.7 for
// a window not yet full and -inf for digital silence).
const minLUFS = -120.0

// Report is what the detectors found in the window.
type Report struct {
	Window Interval `json:"window"`
	// Video and Audio say which checks ran.
	Video bool `json:"video"`
	Audio bool `json:"audio"`
	// Black, Frozen (black left out) and Silent stretches.
	Black  []Interval `json:"black"`
	Frozen []Interval `json:"frozen"`
	Silent []Interval `json:"silent"`
	// MotionRatio is the fraction of the window that was neither black
	// nor frozen (video only).
	MotionRatio float64   `json:"motion_ratio"`
	Loudness    *Loudness `json:"loudness,omitempty"`
	// Elapsed is how long the analysis took.
	Elapsed time.Duration `json:"elapsed"`
}
