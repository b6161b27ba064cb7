package executor

// The script API's picture and sound analysis (is_black, wait_for_motion,
// press_and_wait, measure_zap, check_video, check_audio,
// wait_for_volume_change, ocr, match_text): each call reads the device's
// live frames or sound, decides with capture/picture, capture/sound or
// capture/ocr, and records a step of kind "av" with its evidence: the
// frames that decided it (screenshots with the region and what changed
// outlined on their thumbnails), the numbers and the intervals. Times in
// requests and results are ms from the run's start; durations are seconds.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/ocr"
	"github.com/vpt-dev/vpt/capture/picture"
	"github.com/vpt-dev/vpt/capture/sound"
	"github.com/vpt-dev/vpt/store"
)

// maxAVSeconds bounds every duration of an analysis call: a day.
const maxAVSeconds = 24 * 3600

func badParams(format string, args ...any) error {
	return &APIError{CodeBadParams, fmt.Sprintf(format, args...)}
}

// avError gives analysis errors their codes: bad options and regions are
// the caller's, a missing OCR language is a missing tool.
func avError(method string, err error) error {
	var ae *APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae):
		return err
	case errors.Is(err, capture.ErrRegion), errors.Is(err, picture.ErrOptions), errors.Is(err, sound.ErrOptions),
		errors.Is(err, ocr.ErrLanguageName):
		return &APIError{CodeBadParams, method + ": " + err.Error()}
	case errors.Is(err, ocr.ErrLanguage), errors.Is(err, capture.ErrToolMissing):
		return &APIError{CodeToolMissing, method + ": " + err.Error()}
	}
	return fmt.Errorf("%s: %w", method, err)
}

// seconds reads a duration parameter in seconds: dflt when left out; it
// may not be negative.
func seconds(method, name string, v *float64, dflt float64) (time.Duration, error) {
	x := dflt
	if v != nil {
		x = *v
	}
	switch {
	case math.IsNaN(x) || x < 0:
		return 0, badParams("%s: %s %g is negative: give seconds, 0 or more", method, name, x)
	case x > maxAVSeconds:
		return 0, badParams("%s: %s %g s is more than a day", method, name, x)
	}
	return time.Duration(x * float64(time.Second)), nil
}

// secondsAbove0 is seconds for a parameter that must be more than 0; what
// says what it is, in the message that refuses 0 or less.
func secondsAbove0(method, name, what string, v *float64, dflt float64) (time.Duration, error) {
	if v != nil && !(*v > 0) {
		return 0, badParams("%s: %s %g: %s: give more than 0 seconds", method, name, *v, what)
	}
	return seconds(method, name, v, dflt)
}

// watchFor is the "duration" a check watches or listens for: required,
// more than 0.
func watchFor(method string, v *float64) (time.Duration, error) {
	if v == nil || *v <= 0 {
		return 0, badParams(`%s needs a "duration" in seconds, more than 0`, method)
	}
	return seconds(method, "duration", v, 0)
}

// secs renders a duration as the results give it: seconds, to the ms.
func secs(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// msOf is a time as ms from the run's start.
func (run *runState) msOf(t time.Time) int64 { return t.Sub(run.start).Milliseconds() }

// msAt is msOf, or nil for the zero time (a moment that did not come).
func (run *runState) msAt(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := run.msOf(t)
	return &ms
}

// avRegion reads a region parameter, [x, y, width, height], against a
// picture's bounds; none is the whole picture (the zero rectangle).
func avRegion(method string, r []int, bounds image.Rectangle) (image.Rectangle, error) {
	if len(r) == 0 {
		return image.Rectangle{}, nil
	}
	if len(r) != 4 {
		return image.Rectangle{}, badParams("%s: region is [x, y, width, height], got %d numbers", method, len(r))
	}
	if r[2] <= 0 || r[3] <= 0 {
		// [0, 0, 0, 0] is no "whole picture": that is no region at all.
		return image.Rectangle{}, avError(method, fmt.Errorf("%w: region [%d, %d, %d, %d] has no area (give x, y, width, height with a positive width and height; leave region out for the whole picture)",
			capture.ErrRegion, r[0], r[1], r[2], r[3]))
	}
	rect := capture.RegionOf(r[0], r[1], r[2], r[3])
	if _, err := capture.CheckRegion(rect, bounds); err != nil {
		return image.Rectangle{}, avError(method, err)
	}
	return rect, nil
}

// regionList writes a region as results give it (nil: the whole picture).
func regionList(r image.Rectangle) []int {
	if r.Empty() {
		return nil
	}
	return []int{r.Min.X, r.Min.Y, r.Dx(), r.Dy()}
}

// frameReader opens the device's live frames, or says it has none.
func (run *runState) frameReader(ctx context.Context, method string) (capture.FrameReader, error) {
	fs, err := capture.FramesOf(run.dev)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	r, err := fs.Frames(ctx, capture.FrameOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return r, nil
}

// analysisContext bounds a call that watches for d: d and a device call's
// time on top, for a source that stalls.
func analysisContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d+deviceCallTimeout)
}

// marks outlines the region (unless it is the whole picture) and a box.
func marks(region, box image.Rectangle) []capture.Mark {
	var m []capture.Mark
	if !region.Empty() {
		m = append(m, capture.Mark{Rect: region, Color: capture.MarkRegion})
	}
	if !box.Empty() {
		m = append(m, capture.Mark{Rect: box, Color: capture.MarkChange})
	}
	return m
}

// keepFrame adds a frame that decided a call to the run's screenshots,
// written in the background (the answer does not wait for it) with marks
// on its thumbnail, and returns its index.
func (run *runState) keepFrame(img image.Image, at time.Time, label string, m ...capture.Mark) int {
	shot := run.shots.SaveLaterMarked(img, label, m...)
	sc := store.Screenshot{Label: label, Path: shot.Path, Thumbnail: shot.Thumbnail, TakenAt: at.UTC(),
		OffsetMs: run.msOf(at), Width: shot.Width, Height: shot.Height}
	run.mu.Lock()
	defer run.mu.Unlock()
	run.shotList = append(run.shotList, sc)
	return len(run.shotList) - 1
}

// avStep is what an analysis call records.
type avStep struct {
	method, name string
	passed       bool
	message      string
	start        time.Time
	region       image.Rectangle
	params       any
	result       any
	intervals    []store.AVInterval
	shots        []int
}

// recordAV records an analysis call as a step of kind av. Its status is
// the call's outcome; like a verify, a failed one is the script's to
// judge and does not fail the run by itself.
func (run *runState) recordAV(s avStep) int {
	ev := &store.AVEvidence{Method: s.method, Region: regionList(s.region), Params: asMap(s.params),
		Result: asMap(s.result), Intervals: s.intervals}
	st := store.Step{Kind: "av", Name: s.name, Status: passFail(s.passed), Message: s.message,
		StartedAt: s.start.UTC(), OffsetMs: run.msOf(s.start), DurationMs: time.Since(s.start).Milliseconds(),
		Screenshots: s.shots, AV: ev}
	return run.addStep(st)
}

// asMap turns a params or result struct into the JSON object it is.
func asMap(v any) map[string]any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	delete(m, "step")
	return m
}

// spans turns intervals of live frames or sound into intervals of the run.
func (run *runState) spans(kind string, in []picture.Interval) ([]avSpan, []store.AVInterval) {
	out := []avSpan{}
	var rec []store.AVInterval
	for _, i := range in {
		s := avSpan{Start: run.msOf(i.Start), End: run.msOf(i.End), Duration: secs(i.Duration())}
		out = append(out, s)
		rec = append(rec, store.AVInterval{Kind: kind, Span: store.Span{StartMs: s.Start, EndMs: s.End}})
	}
	return out, rec
}

// avSpan is an interval as results give it.
type avSpan struct {
	Start    int64   `json:"start"`
	End      int64   `json:"end"`
	Duration float64 `json:"duration"`
}
