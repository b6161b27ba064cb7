package sound

import (
	"fmt"
	"math"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// Directions of a volume change.
const (
	Louder  = "louder"
	Quieter = "quieter"
	Either  = "either"
)

// VolumeOptions describe the change to wait for. Zero values take the
// defaults (stb-tester's).
type VolumeOptions struct {
	// Direction: louder, quieter or either (default either).
	Direction string
	// Threshold: the change in dB that counts (default 10).
	Threshold float64
	// Window: the length over which a level is measured (default 400 ms);
	// the level is compared every eighth of it.
	Window time.Duration
	// NoiseFloor: levels below this amplitude count as this amplitude, so
	// silence going to faint hiss is not an infinite change (default
	// 0.0003, about -70 dBFS).
	NoiseFloor float64
}

// Defaults of a volume change.
const (
	DefaultVolumeThreshold = 10.0
	DefaultVolumeWindow    = 400 * time.Millisecond
	DefaultNoiseFloor      = 0.0003
)

// VolumeChange is a change of level from the first window's.
type VolumeChange struct {
	Found bool `json:"found"`
	// At is the end of the first window whose level differs from the
	// reference by the threshold: when the change became measurable. A
	// step change happens at most one window before it.
	At time.Duration `json:"at"`
	// Before is the reference level (the first window), After the level of
	// the window that changed, in dBFS RMS; Difference is After - Before.
	Before     float64 `json:"before"`
	After      float64 `json:"after"`
	Difference float64 `json:"difference"`
	Direction  string  `json:"direction,omitempty"`
}

// VolumeWatch follows sound stretch by stretch until its level changes.
type VolumeWatch struct {
	o        VolumeOptions
	rate     int
	channels int
	hop      int // samples (per channel) between comparisons
	energies []float64
	acc      float64
	accN     int
	frames   int64
	ref      float64
	haveRef  bool
	last     float64 // the newest window's level
	found    *VolumeChange
}

// NewVolumeWatch checks the options.
func NewVolumeWatch(o VolumeOptions) (*VolumeWatch, error) {
	if o.Direction == "" {
		o.Direction = Either
	}
	if o.Threshold == 0 {
		o.Threshold = DefaultVolumeThreshold
	}
	if o.Window == 0 {
		o.Window = DefaultVolumeWindow
	}
	if o.NoiseFloor == 0 {
		o.NoiseFloor = DefaultNoiseFloor
	}
	switch {
	case o.Direction != Louder && o.Direction != Quieter && o.Direction != Either:
		return nil, fmt.Errorf("%w: direction %q (use louder, quieter or either)", ErrOptions, o.Direction)
	case o.Threshold < 0:
		return nil, fmt.Errorf("%w: threshold %g dB is negative", ErrOptions, o.Threshold)
	case o.Window < 10*time.Millisecond:
		return nil, fmt.Errorf("%w: window %s is shorter than 10ms", ErrOptions, o.Window)
	case o.NoiseFloor < 0 || o.NoiseFloor >= 1:
		return nil, fmt.Errorf("%w: noise floor %g is not between 0 and 1", ErrOptions, o.NoiseFloor)
	}
	return &VolumeWatch{o: o}, nil
}

// Add takes the next stretch and reports a change once there is one.
func (w *VolumeWatch) Add(s capture.Sound) (VolumeChange, bool, error) {
	if w.found != nil {
		return *w.found, true, nil
	}
	if err := check(s); err != nil {
		return VolumeChange{}, false, err
	}
	if w.rate == 0 {
		w.rate, w.channels = s.Rate, s.Channels
		w.hop = max(1, int(w.o.Window.Seconds()*float64(s.Rate))/8)
	} else if s.Rate != w.rate || s.Channels != w.channels {
		return VolumeChange{}, false, fmt.Errorf("sound changed from %d Hz × %d to %d Hz × %d", w.rate, w.channels, s.Rate, s.Channels)
	}
	for i := 0; i+w.channels <= len(s.Samples); i += w.channels {
		for _, v := range s.Samples[i : i+w.channels] {
			w.acc += float64(v) * float64(v)
		}
		w.accN++
		w.frames++
		if w.accN < w.hop {
			continue
		}
		w.energies = append(w.energies, w.acc)
		w.acc, w.accN = 0, 0
		if len(w.energies) > 8 {
			w.energies = w.energies[1:]
		}
		if len(w.energies) < 8 {
			continue
		}
		level := w.level()
		w.last = level
		if !w.haveRef {
			w.ref, w.haveRef = level, true
			continue
		}
		if c, ok := w.compare(level); ok {
			w.found = &c
			return c, true, nil
		}
	}
	return VolumeChange{}, false, nil
}

// level is the last window's RMS level in dBFS, floored.
func (w *VolumeWatch) level() float64 {
	var sum float64
	for _, e := range w.energies {
		sum += e
	}
	rms := math.Sqrt(sum / float64(8*w.hop*w.channels))
	return DB(max(rms, w.o.NoiseFloor))
}

func (w *VolumeWatch) compare(level float64) (VolumeChange, bool) {
	diff := level - w.ref
	dir := ""
	switch {
	case diff >= w.o.Threshold && w.o.Direction != Quieter:
		dir = Louder
	case -diff >= w.o.Threshold && w.o.Direction != Louder:
		dir = Quieter
	default:
		return VolumeChange{}, false
	}
	at := time.Duration(w.frames) * time.Second / time.Duration(w.rate)
	return VolumeChange{Found: true, At: at, Before: w.ref, After: level, Difference: diff, Direction: dir}, true
}

// Levels are the reference level and the newest window's, in dBFS (ok
// is false until a whole window was heard): what a wait that found no
// change reports.
func (w *VolumeWatch) Levels() (before, last float64, ok bool) {
	return w.ref, w.last, w.haveRef
}

// FindVolumeChange looks for a change of level in a stretch of sound.
func FindVolumeChange(s capture.Sound, o VolumeOptions) (VolumeChange, error) {
	w, err := NewVolumeWatch(o)
	if err != nil {
		return VolumeChange{}, err
	}
	c, _, err := w.Add(s)
	return c, err
}
