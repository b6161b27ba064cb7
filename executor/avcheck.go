package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/avcheck"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// AVSettings are the recording check's: ffmpeg's detector options (their
// Video, Audio and window are set per run) and the longest black, frozen
// and silent stretches a run may have.
type AVSettings struct {
	Detect avcheck.Options
	Limits avcheck.Limits
}

// wantsAVCheck: the run asked for the check of its recording.
func (run *runState) wantsAVCheck() bool { return run.req.CheckVideo || run.req.CheckAudio }

// checkRecording is the A/V check of a run that asked for it (a campaign
// entry's check_video / check_audio, vpt run --check-video
// --check-audio): the recording is finalised now and ffmpeg's detectors
// run over the script's time window, within the finalisation budget. What
// they found goes into the result (details.av), which the verdict reads.
func (run *runState) checkRecording(ctx context.Context) {
	if !run.wantsAVCheck() || run.err() != nil || run.scriptStart.IsZero() {
		return
	}
	s := run.r.Settings.AV
	c := &store.AVCheck{Video: run.req.CheckVideo, Audio: run.req.CheckAudio, Limits: limitsMs(s.Limits)}
	run.res.Details.AV = c
	start := time.Now()
	defer func() { c.ElapsedMs = time.Since(start).Milliseconds() }()
	if run.rec == nil {
		c.Error = fmt.Sprintf("device %s records no video to check", run.p.dev.ID)
		return
	}
	if err := run.makeMP4(ctx); err != nil {
		c.Error = "the recording could not be finalised: " + err.Error()
		return
	}
	o := s.Detect
	o.Video, o.Audio = c.Video, c.Audio
	o.Start = max(0, run.scriptStart.Sub(run.videoStart))
	o.Duration = max(time.Millisecond, run.scriptEnd.Sub(run.scriptStart))
	offset := run.videoStart.Sub(run.start)
	c.Window = store.Span{StartMs: (offset + o.Start).Milliseconds(), EndMs: (offset + o.Start + o.Duration).Milliseconds()}
	rep, err := avcheck.Analyze(ctx, run.r.Settings.FFmpeg, run.r.Settings.FFprobe, filepath.Join(run.dir, report.VideoMP4), o)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not finished within the finalisation budget: %w", err)
		}
		c.Error = err.Error()
		return
	}
	rep = shift(rep, offset)
	fillAVCheck(c, rep, rep.Judge(s.Limits))
	if !c.Passed {
		for _, p := range c.Problems {
			run.note("A/V check: %s", p)
		}
	}
}

// shift moves a report of the recording onto the run's clock (the
// recording starts offset after the run), so that what the verdict says
// matches the steps' times.
func shift(rep avcheck.Report, offset time.Duration) avcheck.Report {
	move := func(in []avcheck.Interval) []avcheck.Interval {
		out := make([]avcheck.Interval, len(in))
		for i, x := range in {
			out[i] = avcheck.Interval{Start: x.Start + offset, End: x.End + offset}
		}
		return out
	}
	rep.Window = move([]avcheck.Interval{rep.Window})[0]
	rep.Black, rep.Frozen, rep.Silent = move(rep.Black), move(rep.Frozen), move(rep.Silent)
	if l := rep.Loudness; l != nil {
		moved := *l
		moved.ShortTerm = nil
		for _, p := range l.ShortTerm {
			moved.ShortTerm = append(moved.ShortTerm, avcheck.Level{At: p.At + offset, LUFS: p.LUFS})
		}
		rep.Loudness = &moved
	}
	return rep
}

// fillAVCheck records a report, on the run's clock, and its verdict.
func fillAVCheck(c *store.AVCheck, rep avcheck.Report, v avcheck.Verdict) {
	spans := func(in []avcheck.Interval) []store.Span {
		out := []store.Span{}
		for _, i := range in {
			out = append(out, store.Span{StartMs: i.Start.Milliseconds(), EndMs: i.End.Milliseconds()})
		}
		return out
	}
	c.Window = spans([]avcheck.Interval{rep.Window})[0]
	c.Black, c.Frozen, c.Silent = spans(rep.Black), spans(rep.Frozen), spans(rep.Silent)
	c.MotionRatio = rep.MotionRatio
	if l := rep.Loudness; l != nil {
		c.Loudness = &store.Loudness{Integrated: l.Integrated, Range: l.Range, Peak: l.Peak, MaxMomentary: l.MaxMomentary, MaxShortTerm: l.MaxShortTerm}
		for _, p := range l.ShortTerm {
			c.Loudness.ShortTerm = append(c.Loudness.ShortTerm, store.LoudnessPoint{AtMs: p.At.Milliseconds(), LUFS: p.LUFS})
		}
	}
	c.Passed, c.Problems = v.Passed, v.Problems
}

func limitsMs(l avcheck.Limits) store.AVLimits {
	ms := func(d time.Duration) int64 {
		if d < 0 {
			return -1
		}
		return d.Milliseconds()
	}
	return store.AVLimits{MaxBlackMs: ms(l.MaxBlack), MaxFreezeMs: ms(l.MaxFreeze), MaxSilenceMs: ms(l.MaxSilence)}
}

// recordsForCheck: the run records video for its check even when the
// settings say video: off.
func (run *runState) recordsForCheck(dev capture.Device) bool {
	return run.wantsAVCheck() && dev.Info().Has(capture.CapVideo)
}
