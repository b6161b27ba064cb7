package picture

import (
	"fmt"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// Outcomes of a transition, as stb-tester's press_and_wait names them.
const (
	// Complete: the picture changed and then stayed still for Stable.
	Complete = "complete"
	// StartTimeout: the picture never changed.
	StartTimeout = "start_timeout"
	// StableTimeout: it changed but never stayed still for Stable.
	StableTimeout = "stable_timeout"
)

// TransitionOptions tune a transition. Zero values take the defaults.
type TransitionOptions struct {
	// Stable: the picture must stay still this long to have settled
	// (default 1 s).
	Stable time.Duration
	// Timeout: give up this long after the press (default 10 s).
	Timeout time.Duration
	// Motion decides whether a frame changed; its Region is where to look
	// (leave out a clock or a video window that never stops).
	Motion MotionOptions
	// Black decides which frames belong to a black gap.
	Black BlackOptions
}

// Defaults of a transition.
const (
	DefaultStable  = time.Second
	DefaultTimeout = 10 * time.Second
)

// Transition is what happened after a key press, to the frame.
type Transition struct {
	Status  string    `json:"status"`
	Pressed time.Time `json:"pressed"`
	// Started: the first frame that differed from the one before it.
	Started time.Time `json:"started,omitzero"`
	// Settled: the first frame of the still picture it ended on (zero
	// unless Complete). A black picture never counts as settled: it is
	// the gap of a zap, not its end.
	Settled time.Time `json:"settled,omitzero"`
	// BlackStart: the first black frame; BlackEnd: the first frame after
	// the gap that is not black (zero when there was no black frame, or
	// the picture was still black at the end).
	BlackStart time.Time `json:"black_start,omitzero"`
	BlackEnd   time.Time `json:"black_end,omitzero"`
	// Frames is how many frames were looked at after the press; Period is
	// their spacing, the accuracy of every time here.
	Frames int           `json:"frames"`
	Period time.Duration `json:"period"`
	// Seq of the deciding frames: started, settled, first and last black
	// frames (the evidence a report shows).
	StartedSeq, SettledSeq, BlackStartSeq, BlackEndSeq uint64 `json:"-"`
	// LastChange is the newest frame that changed (what Settled becomes
	// once the picture has stayed still for Stable), and its Seq.
	LastChange    time.Time `json:"-"`
	LastChangeSeq uint64    `json:"-"`
	// Last is the final frame seen (the settled picture when Complete).
	Last capture.Frame `json:"-"`
}

// Duration is the time from the press to the settled picture (0 unless
// Complete).
func (t Transition) Duration() time.Duration {
	if t.Settled.IsZero() {
		return 0
	}
	return t.Settled.Sub(t.Pressed)
}

// BlackGap is how long the picture was black (0 without a complete gap).
func (t Transition) BlackGap() time.Duration {
	if t.BlackStart.IsZero() || t.BlackEnd.IsZero() {
		return 0
	}
	return t.BlackEnd.Sub(t.BlackStart)
}

// PictureBack is the time from the press to the first picture after the
// black gap: a zap's time when the new channel's video never stands still.
func (t Transition) PictureBack() time.Duration {
	if t.BlackEnd.IsZero() {
		return 0
	}
	return t.BlackEnd.Sub(t.Pressed)
}

// TransitionDetector follows the frames after a key press. Feed it frames
// from before the press too: the last of them is what the first frame
// after the press is compared with.
type TransitionDetector struct {
	o       TransitionOptions
	t       Transition
	prev    *capture.Frame
	lastChg time.Time // the newest frame that changed
	lastSeq uint64
	done    bool
}

// NewTransition starts a detector for a press at pressed.
func NewTransition(pressed time.Time, o TransitionOptions) (*TransitionDetector, error) {
	var err error
	if o.Stable == 0 {
		o.Stable = DefaultStable
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Stable < 0 || o.Timeout < 0 {
		return nil, fmt.Errorf("%w: durations cannot be negative (stable %s, timeout %s)", ErrOptions, o.Stable, o.Timeout)
	}
	if o.Motion, err = o.Motion.withDefaults(); err != nil {
		return nil, err
	}
	if o.Black, err = o.Black.withDefaults(); err != nil {
		return nil, err
	}
	return &TransitionDetector{o: o, t: Transition{Status: StartTimeout, Pressed: pressed}}, nil
}

// Add takes the next frame and reports whether the transition is decided
// (settled, or past its timeout). Frames after that are ignored.
func (d *TransitionDetector) Add(f capture.Frame) (done bool, err error) {
	if d.done {
		return true, nil
	}
	prev := d.prev
	d.prev = &f
	if prev == nil {
		return false, nil
	}
	if f.Time.Before(d.t.Pressed) {
		return false, nil
	}
	if d.t.Frames > 0 {
		d.t.Period = f.Time.Sub(d.t.Last.Time)
	}
	d.t.Frames++
	d.t.Last = f
	m, err := Compare(prev.Image, f.Image, d.o.Motion)
	if err != nil {
		return false, err
	}
	b, err := IsBlack(f.Image, d.o.Black)
	if err != nil {
		return false, err
	}
	t := &d.t
	if b.Black {
		if t.BlackStart.IsZero() {
			t.BlackStart, t.BlackStartSeq = f.Time, f.Seq
		}
		t.BlackEnd = time.Time{}
	} else if !t.BlackStart.IsZero() && t.BlackEnd.IsZero() {
		t.BlackEnd, t.BlackEndSeq = f.Time, f.Seq
	}
	if m.Moved {
		if t.Started.IsZero() {
			t.Started, t.StartedSeq = f.Time, f.Seq
		}
		d.lastChg, d.lastSeq = f.Time, f.Seq
		t.LastChange, t.LastChangeSeq = f.Time, f.Seq
		t.Status = StableTimeout
	}
	if !t.Started.IsZero() && !b.Black && f.Time.Sub(d.lastChg) >= d.o.Stable {
		t.Status, t.Settled, t.SettledSeq = Complete, d.lastChg, d.lastSeq
		d.done = true
		return true, nil
	}
	if f.Time.Sub(t.Pressed) >= d.o.Timeout {
		d.done = true
	}
	return d.done, nil
}

// Result is the transition as decided so far.
func (d *TransitionDetector) Result() Transition { return d.t }
