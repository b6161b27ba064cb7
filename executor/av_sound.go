package executor

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/picture"
	"github.com/vpt-dev/vpt/capture/sound"
)

// maxListen bounds check_audio: the sound it holds in memory (10 minutes
// of 48 kHz mono, 115 MB). Longer checks are the recording check's.
const maxListen = 10 * time.Minute

// audioReader opens the device's live sound, or says it has none.
func (run *runState) audioReader(ctx context.Context, method string) (capture.AudioReader, error) {
	as, err := capture.AudioOf(run.dev)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	r, err := as.Audio(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return r, nil
}

type checkAudioParams struct {
	Duration   *float64 `json:"duration"`
	Threshold  *float64 `json:"threshold,omitempty"`
	MinSilence *float64 `json:"min_silence,omitempty"`
}

type audioResult struct {
	RMS      float64     `json:"rms"`
	Peak     float64     `json:"peak"`
	Loudness audioLevels `json:"loudness"`
	Silent   []avSpan    `json:"silent"`
	Start    int64       `json:"start"`
	End      int64       `json:"end"`
	Step     int         `json:"step"`
}

// audioLevels: EBU R128 loudness in LUFS.
type audioLevels struct {
	Integrated   float64 `json:"integrated"`
	MaxMomentary float64 `json:"max_momentary"`
	MaxShortTerm float64 `json:"max_short_term"`
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// apiCheckAudio listens for a duration: the level, the loudness and the
// silences.
func apiCheckAudio(ctx context.Context, run *runState, p checkAudioParams) (any, error) {
	const method = "check_audio"
	start := time.Now()
	dur, err := watchFor(method, p.Duration)
	if err != nil {
		return nil, err
	}
	if dur > maxListen {
		return nil, badParams("%s: %s is longer than the %s it listens at most; check a whole run with check_audio: true (vpt run --check-audio)", method, dur, maxListen)
	}
	so := sound.SilenceOptions{Threshold: sound.DefaultSilenceThreshold}
	if p.Threshold != nil {
		if so.Threshold = *p.Threshold; so.Threshold >= 0 {
			return nil, badParams("%s: threshold %g dBFS must be below 0", method, so.Threshold)
		}
	}
	if so.MinDuration, err = seconds(method, "min_silence", p.MinSilence, sound.DefaultMinSilence.Seconds()); err != nil {
		return nil, err
	}
	if so.MinDuration == 0 {
		return nil, badParams("%s: min_silence is how long a quiet stretch lasts to count as silence: give more than 0 seconds", method)
	}
	ctx, cancel := analysisContext(ctx, dur)
	defer cancel()
	s, err := run.listen(ctx, method, dur)
	if err != nil {
		return nil, err
	}
	silent, err := sound.Silences(s, so)
	if err != nil {
		return nil, avError(method, err)
	}
	loud, err := sound.MeasureLoudness(s)
	if err != nil {
		return nil, avError(method, err)
	}
	res := audioResult{RMS: round1(sound.RMS(s)), Peak: round1(sound.Peak(s)), Start: run.msOf(s.Time), End: run.msOf(s.Time.Add(s.Duration())),
		Loudness: audioLevels{round1(loud.Integrated), round1(loud.MaxMomentary), round1(loud.MaxShortTerm)}}
	var in []picture.Interval
	for _, i := range silent {
		in = append(in, picture.Interval{Start: s.Time.Add(i.Start), End: s.Time.Add(i.End)})
	}
	spans, intervals := run.spans("silent", in)
	res.Silent = spans
	msg := fmt.Sprintf("%.1f dBFS RMS, peak %.1f dBFS, %.1f LUFS; %d silences over %s", res.RMS, res.Peak, res.Loudness.Integrated,
		len(silent), fmtSecs(s.Duration()))
	res.Step = run.recordAV(avStep{method: method, name: "Check audio", passed: len(silent) == 0, message: msg, start: start,
		params: p, result: res, intervals: intervals})
	return res, nil
}

// listen reads dur of the device's sound into one stretch.
func (run *runState) listen(ctx context.Context, method string, dur time.Duration) (capture.Sound, error) {
	r, err := run.audioReader(ctx, method)
	if err != nil {
		return capture.Sound{}, err
	}
	defer r.Close()
	var all capture.Sound
	for all.Duration() < dur {
		s, err := r.Next(ctx)
		if err != nil {
			return capture.Sound{}, fmt.Errorf("%s: %w", method, err)
		}
		if all.Rate == 0 {
			all = capture.Sound{Rate: s.Rate, Channels: s.Channels, Time: s.Time}
		}
		all.Samples = append(all.Samples, s.Samples...)
	}
	if n := int(dur.Seconds()*float64(all.Rate)) * all.Channels; n < len(all.Samples) {
		all.Samples = all.Samples[:n]
	}
	return all, nil
}

type volumeParams struct {
	// Key, when given, is pressed once the first window's level is known:
	// the change it makes is measured from the sound before it.
	Key        string   `json:"key,omitempty"`
	Direction  string   `json:"direction,omitempty"`
	Threshold  *float64 `json:"threshold,omitempty"`
	Window     *float64 `json:"window,omitempty"`
	Timeout    *float64 `json:"timeout,omitempty"`
	NoiseFloor float64  `json:"noise_floor,omitempty"`
}

type volumeResult struct {
	Found      bool     `json:"found"`
	At         *int64   `json:"at"`
	Before     *float64 `json:"before"`
	After      *float64 `json:"after"`
	Difference *float64 `json:"difference"`
	Direction  string   `json:"direction"`
	Step       int      `json:"step"`
}

// apiWaitForVolumeChange listens until the level changes by the threshold
// from the first window's, as stb-tester's wait_for_volume_change.
func apiWaitForVolumeChange(ctx context.Context, run *runState, p volumeParams) (any, error) {
	const method = "wait_for_volume_change"
	start := time.Now()
	o := sound.VolumeOptions{Direction: p.Direction, Threshold: sound.DefaultVolumeThreshold, NoiseFloor: p.NoiseFloor}
	if p.Threshold != nil {
		if o.Threshold = *p.Threshold; o.Threshold <= 0 {
			return nil, badParams("%s: threshold %g dB must be more than 0", method, o.Threshold)
		}
	}
	var err error
	if o.Window, err = secondsAbove0(method, "window", "how long each level is measured over", p.Window,
		sound.DefaultVolumeWindow.Seconds()); err != nil {
		return nil, err
	}
	timeout, err := seconds(method, "timeout", p.Timeout, 10)
	if err != nil {
		return nil, err
	}
	if o.Window > timeout {
		return nil, badParams("%s: window %s is longer than timeout %s: not even the first level would be heard", method, o.Window, timeout)
	}
	w, err := sound.NewVolumeWatch(o)
	if err != nil {
		return nil, avError(method, err)
	}
	ctx, cancel := analysisContext(ctx, timeout)
	defer cancel()
	r, err := run.audioReader(ctx, method)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var first, since time.Time // the first sample; when the timeout runs from
	var c sound.VolumeChange
	for found := false; !found; {
		s, err := r.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if first.IsZero() {
			first, since = s.Time, s.Time
		}
		if c, found, err = w.Add(s); err != nil {
			return nil, avError(method, err)
		}
		if _, _, heard := w.Levels(); p.Key != "" && heard && since == first {
			if err := run.pressKey(ctx, p.Key); err != nil {
				return nil, err
			}
			since = time.Now()
		}
		if !found && s.Time.Add(s.Duration()).Sub(since) >= timeout {
			break
		}
	}
	return run.recordVolume(p, w, c, first, start, timeout), nil
}

// pressKey presses a key for an analysis call, bounded as a device call;
// navigation no longer knows where the device is.
func (run *runState) pressKey(ctx context.Context, key string) error {
	ctx, cancel := deviceCall(ctx)
	defer cancel()
	err := run.dev.Press(ctx, key)
	run.nav.forget()
	return err
}

func (run *runState) recordVolume(p volumeParams, w *sound.VolumeWatch, c sound.VolumeChange, first, start time.Time, timeout time.Duration) volumeResult {
	res := volumeResult{Found: c.Found, Direction: c.Direction}
	num := func(f float64) *float64 { f = round1(f); return &f }
	name, msg := "Volume change", ""
	if c.Found {
		at := first.Add(c.At)
		res.At, res.Before, res.After, res.Difference = run.msAt(at), num(c.Before), num(c.After), num(c.Difference)
		msg = fmt.Sprintf("%s by %.1f dB (%.1f → %.1f dBFS) after %s", c.Direction, math.Abs(c.Difference), c.Before, c.After, fmtSecs(at.Sub(start)))
	} else {
		name, msg = "No volume change", fmt.Sprintf("no change of the level in %s", fmtSecs(timeout))
		if before, last, ok := w.Levels(); ok {
			res.Before, res.After, res.Difference = num(before), num(last), num(last-before)
			msg += fmt.Sprintf(" (%.1f dBFS, last %.1f)", before, last)
		}
	}
	res.Step = run.recordAV(avStep{method: "wait_for_volume_change", name: name, passed: c.Found, message: msg, start: start,
		params: p, result: res})
	return res
}
