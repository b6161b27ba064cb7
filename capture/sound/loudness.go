package sound

import (
	"math"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// Windows of EBU R128 (EBU Tech 3341): momentary loudness over 400 ms,
// short-term over 3 s, both updated every 100 ms; integrated loudness
// gated at -70 LUFS and 10 LU below the ungated mean.
const (
	MomentaryWindow = 400 * time.Millisecond
	ShortTermWindow = 3 * time.Second
	loudnessStep    = 100 * time.Millisecond
	absoluteGate    = -70.0
	relativeGate    = -10.0
)

// Point is a loudness at the end of its window.
type Point struct {
	At   time.Duration `json:"at"`
	LUFS float64       `json:"lufs"`
}

// Loudness of a stretch of sound, in LUFS.
type Loudness struct {
	// Momentary and ShortTerm every 100 ms, from the first full window on.
	Momentary []Point `json:"-"`
	ShortTerm []Point `json:"-"`
	// Integrated is the gated loudness of the whole stretch (MinDB when
	// all of it is below the absolute gate).
	Integrated   float64 `json:"integrated"`
	MaxMomentary float64 `json:"max_momentary"`
	MaxShortTerm float64 `json:"max_short_term"`
}

// biquad is one second-order filter section (direct form I).
type biquad struct {
	b0, b1, b2, a1, a2 float64
	x1, x2, y1, y2     float64
}

func (f *biquad) run(x float64) float64 {
	y := f.b0*x + f.b1*f.x1 + f.b2*f.x2 - f.a1*f.y1 - f.a2*f.y2
	f.x2, f.x1, f.y2, f.y1 = f.x1, x, f.y1, y
	return y
}

// kWeighting returns BS.1770's two stages for a sample rate: a high shelf
// of about +4 dB above 1.7 kHz (the head's effect) and a high-pass below
// 38 Hz (RLB). The analogue prototypes are turned into digital filters by
// the bilinear transform, so any rate gets its own coefficients; at 48 kHz
// they are the ones BS.1770 tabulates.
func kWeighting(rate int) (shelf, highpass biquad) {
	fs := float64(rate)
	const (
		shelfF0   = 1681.974450955533
		shelfGain = 3.999843853973347 // dB
		shelfQ    = 0.7071752369554196
		hpF0      = 38.13547087602444
		hpQ       = 0.5003270373238773
	)
	k := math.Tan(math.Pi * shelfF0 / fs)
	vh := math.Pow(10, shelfGain/20)
	vb := math.Pow(vh, 0.4996667741545416)
	a0 := 1 + k/shelfQ + k*k
	shelf = biquad{
		b0: (vh + vb*k/shelfQ + k*k) / a0,
		b1: 2 * (k*k - vh) / a0,
		b2: (vh - vb*k/shelfQ + k*k) / a0,
		a1: 2 * (k*k - 1) / a0,
		a2: (1 - k/shelfQ + k*k) / a0,
	}
	k = math.Tan(math.Pi * hpF0 / fs)
	a0 = 1 + k/hpQ + k*k
	highpass = biquad{b0: 1, b1: -2, b2: 1, a1: 2 * (k*k - 1) / a0, a2: (1 - k/hpQ + k*k) / a0}
	return shelf, highpass
}

// lufs turns a mean square of K-weighted samples (summed over channels,
// each weighted 1: mono and stereo) into LUFS.
func lufs(meanSquare float64) float64 {
	if meanSquare <= 0 {
		return MinDB
	}
	return max(MinDB, -0.691+10*math.Log10(meanSquare))
}

// MeasureLoudness measures a stretch's loudness.
func MeasureLoudness(s capture.Sound) (Loudness, error) {
	if err := check(s); err != nil {
		return Loudness{}, err
	}
	blocks := blockEnergies(s)
	l := Loudness{Integrated: MinDB, MaxMomentary: MinDB, MaxShortTerm: MinDB}
	perBlock := float64(s.Rate) * loudnessStep.Seconds()
	window := func(end, n int) float64 { // mean square of blocks end-n+1..end
		var sum float64
		for _, e := range blocks[end-n+1 : end+1] {
			sum += e
		}
		return sum / (float64(n) * perBlock)
	}
	mBlocks := int(MomentaryWindow / loudnessStep)
	sBlocks := int(ShortTermWindow / loudnessStep)
	var gating []float64 // mean squares of the 400 ms gating blocks
	for i := range blocks {
		at := time.Duration(i+1) * loudnessStep
		if i+1 >= mBlocks {
			ms := window(i, mBlocks)
			gating = append(gating, ms)
			p := Point{at, lufs(ms)}
			l.Momentary = append(l.Momentary, p)
			l.MaxMomentary = max(l.MaxMomentary, p.LUFS)
		}
		if i+1 >= sBlocks {
			p := Point{at, lufs(window(i, sBlocks))}
			l.ShortTerm = append(l.ShortTerm, p)
			l.MaxShortTerm = max(l.MaxShortTerm, p.LUFS)
		}
	}
	l.Integrated = gated(gating)
	return l, nil
}

// blockEnergies K-weights every channel and sums the squares per 100 ms
// block (a last partial block is left out).
func blockEnergies(s capture.Sound) []float64 {
	perBlock := int(float64(s.Rate) * loudnessStep.Seconds())
	frames := len(s.Samples) / s.Channels
	blocks := make([]float64, frames/perBlock)
	for c := 0; c < s.Channels; c++ {
		shelf, hp := kWeighting(s.Rate)
		for i := 0; i < len(blocks)*perBlock; i++ {
			y := hp.run(shelf.run(float64(s.Samples[i*s.Channels+c])))
			blocks[i/perBlock] += y * y
		}
	}
	return blocks
}

// gated is BS.1770's integrated loudness of gating blocks.
func gated(blocks []float64) float64 {
	mean := func(limit float64) (float64, int) {
		var sum float64
		n := 0
		for _, ms := range blocks {
			if lufs(ms) > limit {
				sum += ms
				n++
			}
		}
		if n == 0 {
			return 0, 0
		}
		return sum / float64(n), n
	}
	abs, n := mean(absoluteGate)
	if n == 0 {
		return MinDB
	}
	rel, n := mean(max(absoluteGate, lufs(abs)+relativeGate))
	if n == 0 {
		return MinDB
	}
	return lufs(rel)
}
