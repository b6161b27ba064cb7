package executor

import (
	"context"
	"fmt"
	"image"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/picture"
	"github.com/vpt-dev/vpt/store"
)

type isBlackParams struct {
	Region    []int    `json:"region,omitempty"`
	Threshold *int     `json:"threshold,omitempty"`
	Ratio     *float64 `json:"ratio,omitempty"`
}

// options are the is_black options given, checked: a value out of range
// is refused, not replaced by the default (a ratio of 0 would call every
// picture black).
func (p isBlackParams) options(method string) (picture.BlackOptions, error) {
	var o picture.BlackOptions
	if t := p.Threshold; t != nil {
		if *t < 1 || *t > 254 {
			return o, badParams("%s: threshold %d: give the lightest grey that still counts as dark, 1 to 254", method, *t)
		}
		o.Threshold = *t
	}
	if r := p.Ratio; r != nil {
		if !(*r > 0 && *r <= 1) {
			return o, badParams("%s: ratio %g: give the share of dark pixels that makes the picture black, more than 0 and at most 1", method, *r)
		}
		o.Ratio = *r
	}
	return o, nil
}

type blackResult struct {
	Black  bool    `json:"black"`
	Dark   float64 `json:"dark"`
	Mean   float64 `json:"mean"`
	At     int64   `json:"at"`
	Region []int   `json:"region"`
	Step   int     `json:"step"`
}

// apiIsBlack looks at the picture shown now.
func apiIsBlack(ctx context.Context, run *runState, p isBlackParams) (any, error) {
	const method = "is_black"
	start := time.Now()
	o, err := p.options(method)
	if err != nil {
		return nil, err
	}
	ctx, cancel := deviceCall(ctx)
	defer cancel()
	r, err := run.frameReader(ctx, method)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := r.Next(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	region, err := avRegion(method, p.Region, f.Image.Rect)
	if err != nil {
		return nil, err
	}
	o.Region = region
	b, err := picture.IsBlack(f.Image, o)
	if err != nil {
		return nil, avError(method, err)
	}
	res := blackResult{Black: b.Black, Dark: round4(b.Dark), Mean: round4(b.Mean), At: run.msOf(f.Time), Region: regionList(region)}
	verdict := "not black"
	if b.Black {
		verdict = "black"
	}
	shot := run.keepFrame(f.Image, f.Time, method, marks(region, image.Rectangle{})...)
	// An observation: the step passes whatever the picture shows.
	res.Step = run.recordAV(avStep{method: method, name: "Is black: " + verdict, passed: true, start: start, region: region,
		message: fmt.Sprintf("%s: %.1f%% dark, mean luma %.1f", verdict, b.Dark*100, b.Mean), params: p, result: res,
		shots: []int{shot}})
	return res, nil
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

type waitMotionParams struct {
	Timeout     *float64 `json:"timeout,omitempty"`
	Region      []int    `json:"region,omitempty"`
	Consecutive string   `json:"consecutive,omitempty"`
	Noise       *int     `json:"noise,omitempty"`
}

type motionResult struct {
	Found bool `json:"found"`
	// At: the frame at which N of the last M frames had moved; Started:
	// the first of those that moved.
	At      *int64  `json:"at"`
	Started *int64  `json:"started"`
	Changed float64 `json:"changed"`
	Box     []int   `json:"box"`
	Frames  int     `json:"frames"`
	Region  []int   `json:"region"`
	Step    int     `json:"step"`
}

// motionWait is what watching for motion found.
type motionWait struct {
	found         bool
	at, started   time.Time
	last          capture.Frame
	motion        picture.Motion
	frames        int
	region        image.Rectangle
	consecutive   picture.Consecutive
	timeout       time.Duration
	period        time.Duration
	decidingFrame capture.Frame
}

// watchMotion reads frames until N of the last M moved or timeout passed.
func (run *runState) watchMotion(ctx context.Context, method string, region []int, consecutive string, noise int, timeout time.Duration) (motionWait, error) {
	w := motionWait{timeout: timeout, consecutive: picture.DefaultConsecutive}
	if consecutive != "" {
		c, err := picture.ParseConsecutive(consecutive)
		if err != nil {
			return w, avError(method, err)
		}
		w.consecutive = c
	}
	ctx, cancel := analysisContext(ctx, timeout)
	defer cancel()
	r, err := run.frameReader(ctx, method)
	if err != nil {
		return w, err
	}
	defer r.Close()
	w.period = time.Second / time.Duration(r.FPS())
	start := time.Now()
	var watch *picture.Watch
	moved := make([]time.Time, w.consecutive.M) // when each of the last M frames moved (zero: it did not)
	for {
		f, err := r.Next(ctx)
		if err != nil {
			return w, fmt.Errorf("%s: %w", method, err)
		}
		if watch == nil {
			if w.region, err = avRegion(method, region, f.Image.Rect); err != nil {
				return w, err
			}
			o := picture.WatchOptions{Consecutive: w.consecutive, Motion: picture.MotionOptions{Noise: noise, Region: w.region}}
			if watch, err = picture.NewWatch(o); err != nil {
				return w, avError(method, err)
			}
		}
		ob, err := watch.Add(f)
		if err != nil {
			return w, avError(method, err)
		}
		w.frames++
		w.last = f
		if w.frames > 1 {
			slot := (w.frames - 2) % len(moved)
			moved[slot] = time.Time{}
			if ob.Motion.Moved {
				moved[slot] = f.Time
				w.motion = ob.Motion
			}
		}
		if ob.Moving {
			w.found, w.at, w.decidingFrame = true, f.Time, f
			w.started = earliest(moved)
			return w, nil
		}
		if f.Time.Sub(start) >= timeout {
			return w, nil
		}
	}
}

func earliest(ts []time.Time) time.Time {
	var e time.Time
	for _, t := range ts {
		if !t.IsZero() && (e.IsZero() || t.Before(e)) {
			e = t
		}
	}
	return e
}

// apiWaitForMotion waits for the picture (or a region of it) to move, as
// stb-tester's wait_for_motion: N of the last M frames changed.
func apiWaitForMotion(ctx context.Context, run *runState, p waitMotionParams) (any, error) {
	const method = "wait_for_motion"
	start := time.Now()
	timeout, err := seconds(method, "timeout", p.Timeout, 10)
	if err != nil {
		return nil, err
	}
	noise := 0 // the default
	if p.Noise != nil {
		if noise = *p.Noise; noise < 1 || noise > 254 {
			return nil, badParams("%s: noise %d: give the smallest change of grey that counts as motion, 1 to 254", method, noise)
		}
	}
	w, err := run.watchMotion(ctx, method, p.Region, p.Consecutive, noise, timeout)
	if err != nil {
		return nil, err
	}
	res := motionResult{Found: w.found, At: run.msAt(w.at), Started: run.msAt(w.started), Changed: round4(w.motion.Changed),
		Box: regionList(w.motion.Box), Frames: w.frames, Region: regionList(w.region)}
	name, msg := "Motion found", fmt.Sprintf("motion after %s (%s frames moved; %.2f%% changed)", fmtSecs(w.at.Sub(start)), w.consecutive, w.motion.Changed*100)
	shotFrame := w.decidingFrame
	if !w.found {
		name, msg = "No motion", fmt.Sprintf("no motion in %s (%d frames, %s needed)", fmtSecs(timeout), w.frames, w.consecutive)
		shotFrame = w.last
	}
	var shots []int
	if shotFrame.Image != nil {
		shots = append(shots, run.keepFrame(shotFrame.Image, shotFrame.Time, name, marks(w.region, w.motion.Box)...))
	}
	res.Step = run.recordAV(avStep{method: method, name: name, passed: w.found, message: msg, start: start, region: w.region,
		params: p, result: res, shots: shots})
	return res, nil
}

func fmtSecs(d time.Duration) string { return fmt.Sprintf("%.3gs", max(d, 0).Seconds()) }

type pressWaitParams struct {
	Key     string   `json:"key"`
	Stable  *float64 `json:"stable,omitempty"`
	Timeout *float64 `json:"timeout,omitempty"`
	Region  []int    `json:"region,omitempty"`
}

type transitionResult struct {
	Status     string  `json:"status"`
	Key        string  `json:"key"`
	Pressed    int64   `json:"pressed"`
	Started    *int64  `json:"started"`
	Settled    *int64  `json:"settled"`
	Duration   float64 `json:"duration"`
	BlackStart *int64  `json:"black_start"`
	BlackEnd   *int64  `json:"black_end"`
	BlackGap   float64 `json:"black_gap"`
	Frames     int     `json:"frames"`
	Period     float64 `json:"period"`
	Region     []int   `json:"region"`
	Step       int     `json:"step"`
}

type zapResult struct {
	transitionResult
	// ZapTime: from the press to the first picture after the black gap
	// (to the first change without one); SettledAfter: to the settled
	// picture.
	ZapTime      *float64 `json:"zap_time"`
	SettledAfter *float64 `json:"settled_after"`
}

// pressed is a transition after a key press, with its deciding frames.
type pressed struct {
	t      picture.Transition
	region image.Rectangle
	period time.Duration
	// frames that decided: started, first black, first after the gap,
	// the settled picture (or the last seen).
	started, blackStart, blackEnd, settled capture.Frame
}

// pressAndWait opens the frames, takes the picture before the press,
// presses and follows the transition to the frame.
func (run *runState) pressAndWait(ctx context.Context, method string, p pressWaitParams) (pressed, error) {
	var pr pressed
	if p.Key == "" {
		return pr, badParams(`%s needs a "key"`, method)
	}
	stable, err := seconds(method, "stable", p.Stable, 1)
	if err != nil {
		return pr, err
	}
	timeout, err := seconds(method, "timeout", p.Timeout, 10)
	if err != nil {
		return pr, err
	}
	ctx, cancel := analysisContext(ctx, timeout)
	defer cancel()
	r, err := run.frameReader(ctx, method)
	if err != nil {
		return pr, err
	}
	defer r.Close()
	pr.period = time.Second / time.Duration(r.FPS())
	before, err := r.Next(ctx)
	if err != nil {
		return pr, fmt.Errorf("%s: %w", method, err)
	}
	if pr.region, err = avRegion(method, p.Region, before.Image.Rect); err != nil {
		return pr, err
	}
	o := picture.TransitionOptions{Stable: max(stable, time.Nanosecond), Timeout: max(timeout, time.Nanosecond),
		Motion: picture.MotionOptions{Region: pr.region}, Black: picture.BlackOptions{Region: pr.region}}
	at := time.Now()
	if err := run.pressKey(ctx, p.Key); err != nil {
		return pr, err
	}
	det, err := picture.NewTransition(at, o)
	if err != nil {
		return pr, avError(method, err)
	}
	f := before
	for {
		done, err := det.Add(f)
		if err != nil {
			return pr, avError(method, err)
		}
		pr.keep(det.Result(), f)
		if done {
			break
		}
		if f, err = r.Next(ctx); err != nil {
			return pr, fmt.Errorf("%s: %w", method, err)
		}
	}
	pr.t = det.Result()
	if pr.t.Status != picture.Complete {
		pr.settled = pr.t.Last
	}
	if pr.t.Period > 0 {
		pr.period = pr.t.Period
	}
	return pr, nil
}

// keep holds on to the frame just added when it decided something.
func (pr *pressed) keep(t picture.Transition, f capture.Frame) {
	switch {
	case t.Frames == 0:
		return
	case !t.Started.IsZero() && t.StartedSeq == f.Seq && pr.started.Image == nil:
		pr.started = f
	}
	if !t.BlackStart.IsZero() && t.BlackStartSeq == f.Seq {
		pr.blackStart = f
	}
	if !t.BlackEnd.IsZero() && t.BlackEndSeq == f.Seq {
		pr.blackEnd = f
	}
	if !t.LastChange.IsZero() && t.LastChangeSeq == f.Seq {
		pr.settled = f
	}
}

func (run *runState) transitionResult(pr pressed, key string) transitionResult {
	t := pr.t
	return transitionResult{Status: t.Status, Key: key, Pressed: run.msOf(t.Pressed), Started: run.msAt(t.Started),
		Settled: run.msAt(t.Settled), Duration: secs(t.Duration()), BlackStart: run.msAt(t.BlackStart), BlackEnd: run.msAt(t.BlackEnd),
		BlackGap: secs(t.BlackGap()), Frames: t.Frames, Period: secs(pr.period), Region: regionList(pr.region)}
}

// transitionShots saves the frames that decided a transition, each once:
// the first that changed, the first black one, the first after the gap,
// the settled picture (or the last one seen).
func (run *runState) transitionShots(pr pressed, key string) []int {
	settled := "settled"
	if pr.t.Status != picture.Complete {
		settled = "last frame"
	}
	var frames []capture.Frame
	var labels [][]string
	for _, s := range []struct {
		f     capture.Frame
		label string
	}{{pr.started, "started"}, {pr.blackStart, "black"}, {pr.blackEnd, "picture back"}, {pr.settled, settled}} {
		switch {
		case s.f.Image == nil:
		case len(frames) > 0 && frames[len(frames)-1].Seq == s.f.Seq:
			labels[len(labels)-1] = append(labels[len(labels)-1], s.label)
		default:
			frames, labels = append(frames, s.f), append(labels, []string{s.label})
		}
	}
	var shots []int
	for i, f := range frames {
		label := key + " " + strings.Join(labels[i], ", ")
		shots = append(shots, run.keepFrame(f.Image, f.Time, label, marks(pr.region, image.Rectangle{})...))
	}
	return shots
}

func blackGap(t picture.Transition) []picture.Interval {
	if t.BlackGap() > 0 {
		return []picture.Interval{{Start: t.BlackStart, End: t.BlackEnd}}
	}
	return nil
}

// apiPressAndWait presses a key and follows the transition: when the
// picture started to change, its black gap, when it settled.
func apiPressAndWait(ctx context.Context, run *runState, p pressWaitParams) (any, error) {
	const method = "press_and_wait"
	start := time.Now()
	pr, err := run.pressAndWait(ctx, method, p)
	if err != nil {
		return nil, err
	}
	res := run.transitionResult(pr, p.Key)
	_, intervals := run.spans("black", blackGap(pr.t))
	res.Step = run.recordAV(avStep{method: method, name: "Press " + p.Key + " and wait", passed: pr.t.Status == picture.Complete,
		message: describeTransition(pr.t), start: start, region: pr.region, params: p, result: res, intervals: intervals,
		shots: run.transitionShots(pr, p.Key)})
	return res, nil
}

// apiMeasureZap presses a channel key and measures the zap: its black
// gap, the time to the new picture and to a stable one.
func apiMeasureZap(ctx context.Context, run *runState, p pressWaitParams) (any, error) {
	const method = "measure_zap"
	start := time.Now()
	pr, err := run.pressAndWait(ctx, method, p)
	if err != nil {
		return nil, err
	}
	res := zapResult{transitionResult: run.transitionResult(pr, p.Key)}
	t := pr.t
	switch {
	case !t.BlackEnd.IsZero():
		z := secs(t.PictureBack())
		res.ZapTime = &z
	case !t.Started.IsZero() && t.BlackStart.IsZero():
		z := secs(t.Started.Sub(t.Pressed))
		res.ZapTime = &z
	}
	if t.Status == picture.Complete {
		s := secs(t.Duration())
		res.SettledAfter = &s
	}
	msg := describeTransition(t)
	if res.ZapTime != nil {
		msg = fmt.Sprintf("zap time %.3gs; %s", *res.ZapTime, msg)
	}
	_, intervals := run.spans("black", blackGap(t))
	res.Step = run.recordAV(avStep{method: method, name: "Zap with " + p.Key, passed: t.Status == picture.Complete,
		message: msg, start: start, region: pr.region, params: p, result: res, intervals: intervals,
		shots: run.transitionShots(pr, p.Key)})
	return res, nil
}

func describeTransition(t picture.Transition) string {
	var s string
	switch t.Status {
	case picture.Complete:
		s = fmt.Sprintf("settled %s after the press", fmtSecs(t.Duration()))
	case picture.StartTimeout:
		s = "the picture did not change"
	default:
		s = "the picture changed but did not settle"
	}
	if g := t.BlackGap(); g > 0 {
		s += fmt.Sprintf("; black for %s", fmtSecs(g))
	} else if !t.BlackStart.IsZero() {
		s += "; still black at the end"
	}
	return fmt.Sprintf("%s (%d frames, one every %s)", s, t.Frames, fmtSecs(t.Period))
}

type checkVideoParams struct {
	Duration *float64 `json:"duration"`
	Region   []int    `json:"region,omitempty"`
	Freeze   *float64 `json:"freeze,omitempty"`
	MinBlack *float64 `json:"min_black,omitempty"`
}

type videoResult struct {
	Black       []avSpan `json:"black"`
	Frozen      []avSpan `json:"frozen"`
	MotionRatio float64  `json:"motion_ratio"`
	Frames      int      `json:"frames"`
	Start       int64    `json:"start"`
	End         int64    `json:"end"`
	Region      []int    `json:"region"`
	Step        int      `json:"step"`
}

// maxEvidence bounds the frames check_video keeps per kind of stretch.
const maxEvidence = 3

// apiCheckVideo watches the picture for a duration and reports its black
// and frozen stretches and how much of it moved.
func apiCheckVideo(ctx context.Context, run *runState, p checkVideoParams) (any, error) {
	const method = "check_video"
	start := time.Now()
	dur, err := watchFor(method, p.Duration)
	if err != nil {
		return nil, err
	}
	o := picture.WatchOptions{}
	if o.Freeze, err = secondsAbove0(method, "freeze", "how long a still picture lasts to count as frozen", p.Freeze,
		picture.DefaultFreeze.Seconds()); err != nil {
		return nil, err
	}
	if o.MinBlack, err = seconds(method, "min_black", p.MinBlack, 0); err != nil {
		return nil, err
	}
	ctx, cancel := analysisContext(ctx, dur)
	defer cancel()
	r, err := run.frameReader(ctx, method)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	seen, err := watchVideo(ctx, method, r, p.Region, o, dur)
	if err != nil {
		return nil, err
	}
	return run.recordVideoCheck(p, seen, start), nil
}

// videoSeen is what watching the picture for a while found.
type videoSeen struct {
	summary picture.Summary
	region  image.Rectangle
	// candidates: the first frame of each black stretch and the frame at
	// which each freeze was noticed; last: the last frame.
	blacks, freezes []capture.Frame
	last            capture.Frame
}

func watchVideo(ctx context.Context, method string, r capture.FrameReader, region []int, o picture.WatchOptions, dur time.Duration) (videoSeen, error) {
	var v videoSeen
	var w *picture.Watch
	var first time.Time
	var wasBlack, wasFrozen bool
	for {
		f, err := r.Next(ctx)
		if err != nil {
			return v, fmt.Errorf("%s: %w", method, err)
		}
		if w == nil {
			if v.region, err = avRegion(method, region, f.Image.Rect); err != nil {
				return v, err
			}
			o.Black.Region, o.Motion.Region = v.region, v.region
			if w, err = picture.NewWatch(o); err != nil {
				return v, avError(method, err)
			}
			first = f.Time
		}
		if f.Time.Sub(first) >= dur {
			v.summary = w.Summary(first.Add(dur))
			return v, nil
		}
		ob, err := w.Add(f)
		if err != nil {
			return v, avError(method, err)
		}
		if ob.Black.Black && !wasBlack && len(v.blacks) < 4*maxEvidence {
			v.blacks = append(v.blacks, f)
		}
		if ob.Frozen && !ob.Black.Black && !wasFrozen && len(v.freezes) < 4*maxEvidence {
			v.freezes = append(v.freezes, f)
		}
		wasBlack, wasFrozen = ob.Black.Black, ob.Frozen && !ob.Black.Black
		v.last = f
	}
}

func (run *runState) recordVideoCheck(p checkVideoParams, v videoSeen, start time.Time) videoResult {
	s := v.summary
	res := videoResult{MotionRatio: round4(s.MotionRatio), Frames: s.Frames, Start: run.msOf(s.Start), End: run.msOf(s.End),
		Region: regionList(v.region)}
	var black, frozen []store.AVInterval
	res.Black, black = run.spans("black", s.Black)
	res.Frozen, frozen = run.spans("frozen", s.Frozen)
	var shots []int
	m := marks(v.region, image.Rectangle{})
	for _, pick := range []struct {
		frames []capture.Frame
		in     []picture.Interval
		label  string
	}{{v.blacks, s.Black, "black"}, {v.freezes, s.Frozen, "frozen"}} {
		n := 0
		for _, f := range pick.frames {
			if n < maxEvidence && inAny(f.Time, pick.in) {
				shots = append(shots, run.keepFrame(f.Image, f.Time, pick.label, m...))
				n++
			}
		}
	}
	if v.last.Image != nil {
		shots = append(shots, run.keepFrame(v.last.Image, v.last.Time, "last frame", m...))
	}
	ok := len(s.Black) == 0 && len(s.Frozen) == 0
	msg := fmt.Sprintf("%d black and %d frozen stretches in %s; %.0f%% of the frames moved", len(s.Black), len(s.Frozen),
		fmtSecs(s.End.Sub(s.Start)), s.MotionRatio*100)
	res.Step = run.recordAV(avStep{method: "check_video", name: "Check video", passed: ok, message: msg, start: start,
		region: v.region, params: p, result: res, intervals: append(black, frozen...), shots: shots})
	return res
}

func inAny(t time.Time, in []picture.Interval) bool {
	for _, i := range in {
		if !t.Before(i.Start) && t.Before(i.End) {
			return true
		}
	}
	return false
}
