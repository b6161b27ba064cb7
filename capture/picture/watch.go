package picture

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// Consecutive is stb-tester's "N of M frames": motion is found when at
// least N of the last M frames moved, so a single flicker is not motion
// and a video with a few repeated frames still is.
type Consecutive struct{ N, M int }

// DefaultConsecutive is stb-tester's default, "10/20".
var DefaultConsecutive = Consecutive{10, 20}

// ParseConsecutive reads "N/M" or "N" (N of N).
func ParseConsecutive(s string) (Consecutive, error) {
	ns, ms, hasM := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(strings.TrimSpace(ns))
	m := n
	if err == nil && hasM {
		m, err = strconv.Atoi(strings.TrimSpace(ms))
	}
	if err != nil {
		return Consecutive{}, fmt.Errorf("%w: consecutive %q is not N/M (such as 10/20)", ErrOptions, s)
	}
	c := Consecutive{n, m}
	return c, c.check()
}

func (c Consecutive) check() error {
	if c.N < 1 || c.M < c.N || c.M > 1000 {
		return fmt.Errorf("%w: consecutive %d/%d needs 1 <= N <= M <= 1000", ErrOptions, c.N, c.M)
	}
	return nil
}

func (c Consecutive) String() string { return fmt.Sprintf("%d/%d", c.N, c.M) }

// Interval is a stretch of time: from the first frame that showed it to
// the first frame that did not (or the end of the frames watched).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Duration is how long it lasted.
func (i Interval) Duration() time.Duration { return i.End.Sub(i.Start) }

// WatchOptions tune a Watch. Zero values take the defaults.
type WatchOptions struct {
	Black  BlackOptions
	Motion MotionOptions
	// Consecutive decides Moving (default 10/20).
	Consecutive Consecutive
	// Freeze: a picture still for this long is frozen (default 2 s, as
	// ffmpeg's freezedetect).
	Freeze time.Duration
	// MinBlack: black stretches shorter than this are not reported
	// (default 0: every black frame counts).
	MinBlack time.Duration
}

// DefaultFreeze is how long a picture must be still to count as frozen.
const DefaultFreeze = 2 * time.Second

// Observation is what a Watch made of one frame.
type Observation struct {
	Black Black
	// Motion compares the frame with the one before (zero for the first).
	Motion Motion
	// Moving: Consecutive is met at this frame.
	Moving bool
	// Still is since when the picture has not moved (the frame that began
	// the still stretch); Frozen: for at least the Freeze duration.
	Still  time.Time
	Frozen bool
}

// Watch follows a stream of frames and keeps its black and frozen
// stretches. Black frames are still too; Summary reports them as black,
// not frozen, as a test engineer reads "black" before "frozen".
type Watch struct {
	o       WatchOptions
	prev    *capture.Frame
	first   time.Time
	last    time.Time
	frames  int
	pairs   int
	moved   int
	window  []bool // the last M frames: moved or not
	wi      int
	inBlack bool
	blacks  []Interval
	still   time.Time
	// stillPairs counts the pairs of frames since still that did not
	// move: a stretch with none is no still picture (every frame moved,
	// or one frame alone), however long the frame period.
	stillPairs int
	stills     []Interval
}

// NewWatch checks the options.
func NewWatch(o WatchOptions) (*Watch, error) {
	var err error
	if o.Black, err = o.Black.withDefaults(); err != nil {
		return nil, err
	}
	if o.Motion, err = o.Motion.withDefaults(); err != nil {
		return nil, err
	}
	if o.Consecutive == (Consecutive{}) {
		o.Consecutive = DefaultConsecutive
	}
	if err := o.Consecutive.check(); err != nil {
		return nil, err
	}
	if o.Freeze == 0 {
		o.Freeze = DefaultFreeze
	}
	if o.Freeze < 0 || o.MinBlack < 0 {
		return nil, fmt.Errorf("%w: durations cannot be negative (freeze %s, min black %s)", ErrOptions, o.Freeze, o.MinBlack)
	}
	return &Watch{o: o, window: make([]bool, o.Consecutive.M)}, nil
}

// Add takes the next frame.
func (w *Watch) Add(f capture.Frame) (Observation, error) {
	var ob Observation
	var err error
	if ob.Black, err = IsBlack(f.Image, w.o.Black); err != nil {
		return ob, err
	}
	if w.prev != nil {
		if ob.Motion, err = Compare(w.prev.Image, f.Image, w.o.Motion); err != nil {
			return ob, err
		}
		w.pairs++
		w.window[w.wi] = ob.Motion.Moved
		w.wi = (w.wi + 1) % len(w.window)
		if ob.Motion.Moved {
			w.moved++
		}
	} else {
		w.first = f.Time
	}
	w.frames++
	w.last = f.Time
	// Black stretches.
	switch {
	case ob.Black.Black && !w.inBlack:
		w.inBlack = true
		w.blacks = append(w.blacks, Interval{Start: f.Time})
	case !ob.Black.Black && w.inBlack:
		w.inBlack = false
		w.blacks[len(w.blacks)-1].End = f.Time
	}
	// Still stretches: a frame that moved begins a new one.
	if w.prev == nil || ob.Motion.Moved {
		if w.prev != nil && w.stillPairs > 0 && f.Time.Sub(w.still) >= w.o.Freeze {
			w.stills = append(w.stills, Interval{w.still, f.Time})
		}
		w.still, w.stillPairs = f.Time, 0
	} else {
		w.stillPairs++
	}
	ob.Still = w.still
	ob.Frozen = w.stillPairs > 0 && f.Time.Sub(w.still) >= w.o.Freeze
	n := 0
	for _, m := range w.window {
		if m {
			n++
		}
	}
	ob.Moving = n >= w.o.Consecutive.N
	w.prev = &f
	return ob, nil
}

// Summary is what a Watch saw.
type Summary struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Frames int       `json:"frames"`
	// Black stretches, at least MinBlack long.
	Black []Interval `json:"black"`
	// Frozen stretches (still for at least Freeze), black left out.
	Frozen []Interval `json:"frozen"`
	// MotionRatio is the fraction of frames that moved from the one before.
	MotionRatio float64 `json:"motion_ratio"`
}

// Summary closes the open stretches at end (the time after the last frame;
// zero: the last frame's time) and reports.
func (w *Watch) Summary(end time.Time) Summary {
	if end.IsZero() || end.Before(w.last) {
		end = w.last
	}
	s := Summary{Start: w.first, End: end, Frames: w.frames}
	if w.pairs > 0 {
		s.MotionRatio = float64(w.moved) / float64(w.pairs)
	}
	// A watch shorter than a stretch's least length counts a stretch that
	// lasts all of it: a frozen picture watched for 1 s is frozen.
	minBlack, freeze := w.o.MinBlack, w.o.Freeze
	if whole := end.Sub(w.first); whole > 0 {
		minBlack, freeze = min(minBlack, whole), min(freeze, whole)
	}
	var blacks []Interval
	for _, b := range w.blacks {
		if b.End.IsZero() {
			b.End = end
		}
		blacks = append(blacks, b)
		if b.Duration() >= minBlack {
			s.Black = append(s.Black, b)
		}
	}
	stills := w.stills
	if w.stillPairs > 0 && end.Sub(w.still) >= freeze {
		stills = append(stills, Interval{w.still, end})
	}
	for _, st := range stills {
		for _, part := range subtract(st, blacks) {
			if part.Duration() >= freeze {
				s.Frozen = append(s.Frozen, part)
			}
		}
	}
	return s
}

// subtract returns what of a is not covered by the sorted, disjoint cuts.
func subtract(a Interval, cuts []Interval) []Interval {
	var out []Interval
	cur := a.Start
	for _, c := range cuts {
		if !c.End.After(cur) || !c.Start.Before(a.End) {
			continue
		}
		if c.Start.After(cur) {
			out = append(out, Interval{cur, c.Start})
		}
		if c.End.After(cur) {
			cur = c.End
		}
	}
	if a.End.After(cur) {
		out = append(out, Interval{cur, a.End})
	}
	return out
}
