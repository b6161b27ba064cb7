// Package picture tells from a device's frames (capture.Frame: 8-bit grey,
// timestamped) whether the picture is black, whether it moves, whether it
// has frozen, and how a transition after a key press went: when the
// picture started to change, its black gap, when it settled.
//
// Every decision is one pass over the region's bytes, about a millisecond
// on a 720p frame, so a live reader keeps up with the device's frame rate.
// Frames are compared with the frame before them, which makes motion and
// transitions accurate to one frame. Errors: a region outside the frame
// (capture.ErrRegion), options out of range (ErrOptions), frames of
// different sizes.
package picture

import (
	"errors"
	"fmt"
	"image"

	"github.com/vpt-dev/vpt/capture"
)

// ErrOptions: an option is out of range.
var ErrOptions = errors.New("bad analysis option")

// Defaults of the options.
const (
	// DefaultBlackThreshold: a pixel at or below this luma is dark. The
	// black of limited-range video is 16; capture noise adds a few steps.
	DefaultBlackThreshold = 32
	// DefaultBlackRatio: a picture is black when this fraction of it is
	// dark (ffmpeg blackdetect's pic_th). A dark scene with anything on it
	// — a logo, subtitles, a 10% lit corner — is not black.
	DefaultBlackRatio = 0.98
	// DefaultNoise: a pixel changed when its luma moved by more than this;
	// capture cards and compression jitter by less.
	DefaultNoise = 25
	// DefaultMinChanged: a frame moved when this fraction of the region's
	// pixels changed (0.1%: a small animation, not a cursor's blink).
	DefaultMinChanged = 0.001
)

// BlackOptions say what counts as black. Zero values take the defaults.
type BlackOptions struct {
	// Threshold: a pixel is dark at or below this luma (1..254).
	Threshold int
	// Ratio: the picture is black when at least this fraction of its
	// pixels is dark (0 < Ratio <= 1).
	Ratio float64
	// Region limits the check to part of the frame (zero: all of it).
	Region image.Rectangle
}

func (o BlackOptions) withDefaults() (BlackOptions, error) {
	if o.Threshold == 0 {
		o.Threshold = DefaultBlackThreshold
	}
	if o.Ratio == 0 {
		o.Ratio = DefaultBlackRatio
	}
	if o.Threshold < 1 || o.Threshold > 254 {
		return o, fmt.Errorf("%w: black threshold %d is not between 1 and 254", ErrOptions, o.Threshold)
	}
	if o.Ratio < 0 || o.Ratio > 1 {
		return o, fmt.Errorf("%w: black ratio %g is not between 0 and 1", ErrOptions, o.Ratio)
	}
	return o, nil
}

// Black is the verdict on one frame.
type Black struct {
	Black bool `json:"black"`
	// Dark is the fraction of the region's pixels at or below the threshold.
	Dark float64 `json:"dark"`
	// Mean is the region's mean luma (0..255).
	Mean   float64         `json:"mean"`
	Region image.Rectangle `json:"-"`
}

// IsBlack tells whether a frame (or its region) is black.
func IsBlack(img *image.Gray, o BlackOptions) (Black, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Black{}, err
	}
	r, err := capture.CheckRegion(o.Region, img.Rect)
	if err != nil {
		return Black{}, err
	}
	var lut [256]uint32
	for v := 0; v <= o.Threshold; v++ {
		lut[v] = 1
	}
	var dark, sum uint64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[img.PixOffset(r.Min.X, y):img.PixOffset(r.Max.X, y)]
		// Per-row sums fit 32 bits; fewer widenings keep the loop tight.
		var d, s uint32
		for _, p := range row {
			d += lut[p]
			s += uint32(p)
		}
		dark += uint64(d)
		sum += uint64(s)
	}
	n := float64(r.Dx() * r.Dy())
	b := Black{Dark: float64(dark) / n, Mean: float64(sum) / n, Region: r}
	b.Black = b.Dark >= o.Ratio
	return b, nil
}

// MotionOptions say what counts as motion. Zero values take the defaults.
type MotionOptions struct {
	// Noise: a pixel changed when its luma differs by more than this
	// (1..254).
	Noise int
	// MinChanged: the picture moved when at least this fraction of the
	// region's pixels changed (0 < MinChanged <= 1).
	MinChanged float64
	// Region limits the comparison to part of the frame (zero: all of it).
	Region image.Rectangle
}

func (o MotionOptions) withDefaults() (MotionOptions, error) {
	if o.Noise == 0 {
		o.Noise = DefaultNoise
	}
	if o.MinChanged == 0 {
		o.MinChanged = DefaultMinChanged
	}
	if o.Noise < 1 || o.Noise > 254 {
		return o, fmt.Errorf("%w: motion noise threshold %d is not between 1 and 254", ErrOptions, o.Noise)
	}
	if o.MinChanged < 0 || o.MinChanged > 1 {
		return o, fmt.Errorf("%w: motion min_changed %g is not between 0 and 1", ErrOptions, o.MinChanged)
	}
	return o, nil
}

// Motion is the comparison of a frame with the one before it.
type Motion struct {
	Moved bool `json:"moved"`
	// Changed is the fraction of the region's pixels that changed.
	Changed float64 `json:"changed"`
	// Box bounds the pixels that changed (empty when none did): the
	// evidence drawn on a thumbnail.
	Box image.Rectangle `json:"-"`
}

// Compare tells whether cur moved from prev (or within its region).
func Compare(prev, cur *image.Gray, o MotionOptions) (Motion, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Motion{}, err
	}
	if prev.Rect != cur.Rect {
		return Motion{}, fmt.Errorf("frames of different sizes: %v and %v", prev.Rect.Size(), cur.Rect.Size())
	}
	r, err := capture.CheckRegion(o.Region, cur.Rect)
	if err != nil {
		return Motion{}, err
	}
	// changed[d+255] is 1 when a difference d is beyond the noise.
	var lut [511]uint32
	for d := -255; d <= 255; d++ {
		if d > o.Noise || d < -o.Noise {
			lut[d+255] = 1
		}
	}
	var total uint64
	box := image.Rectangle{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		a := prev.Pix[prev.PixOffset(r.Min.X, y):prev.PixOffset(r.Max.X, y)]
		b := cur.Pix[cur.PixOffset(r.Min.X, y):cur.PixOffset(r.Max.X, y)]
		b = b[:len(a)]
		var n uint32
		for i, p := range a {
			n += lut[int(b[i])-int(p)+255]
		}
		if n == 0 {
			continue
		}
		total += uint64(n)
		// Only rows that changed pay for finding where.
		first, last := 0, len(a)-1
		for lut[int(b[first])-int(a[first])+255] == 0 {
			first++
		}
		for lut[int(b[last])-int(a[last])+255] == 0 {
			last--
		}
		box = box.Union(image.Rect(r.Min.X+first, y, r.Min.X+last+1, y+1))
	}
	m := Motion{Changed: float64(total) / float64(r.Dx()*r.Dy()), Box: box}
	m.Moved = total > 0 && m.Changed >= o.MinChanged
	return m, nil
}
