package virtual

import (
	"context"
	"errors"
	"image"
	"math"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/ui"
)

// The virtual device's sound: mono, 48 kHz. A screen's tone is a sine of
// the screen's frequency (ui.UI.ToneOf); its level is ToneRMS, or LoudRMS
// on a loud screen (RMS dBFS = 20·log10(amplitude/√2)).
const (
	AudioRate     = 48000
	toneAmplitude = 0.1  // ToneRMS
	loudAmplitude = 0.89 // LoudRMS
	// ToneRMS and LoudRMS are the tones' levels in dBFS (RMS).
	ToneRMS = -23.0
	LoudRMS = -4.0
)

// maxLag is how far behind the present a live reader may fall before it
// skips ahead. Until then it renders every instant, late but exactly as it
// was (the history of screens covers that), so a slow consumer sees the
// same frames as a fast one.
const maxLag = 5 * time.Second

// errClosed: the reader was closed.
var errClosed = errors.New("reader closed")

// soundLocked is the tone (Hz) and amplitude playing at t: nothing during
// an edge's black gap and on silent screens.
func (d *Device) soundLocked(t time.Time) (freq, amp float64) {
	h := d.shownAt(t)
	if t.Before(h.at.Add(h.black)) {
		return 0, 0
	}
	freq, amp = d.ui.ToneOf(h.node), toneAmplitude
	if node, err := d.ui.Node(h.node); err == nil {
		switch node.SoundOf() {
		case ui.SoundSilent:
			return 0, 0
		case ui.SoundLoud:
			amp = loudAmplitude
		}
	}
	return freq, amp
}

// synth makes the device's sound sample by sample from a start time;
// its phase runs on across calls and tone changes, so a change of screen
// changes the pitch without a jump in the wave.
type synth struct {
	d     *Device
	start time.Time
	n     int64 // samples made
	phase float64
}

// block is how many samples share one look-up of the screen: a
// millisecond, well under the 20 ms silences are measured to.
const block = AudioRate / 1000

// fill makes the next len(buf) samples.
func (s *synth) fill(buf []float32) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	for i := 0; i < len(buf); i += block {
		t := s.start.Add(time.Duration(s.n+int64(i)) * time.Second / AudioRate)
		freq, amp := s.d.soundLocked(t)
		step := 2 * math.Pi * freq / AudioRate
		for j := i; j < min(i+block, len(buf)); j++ {
			buf[j] = float32(amp * math.Sin(s.phase))
			s.phase += step
		}
		s.phase = math.Mod(s.phase, 2*math.Pi)
	}
	s.n += int64(len(buf))
}

// timeOf is when sample n plays.
func (s *synth) timeOf(n int64) time.Time {
	return s.start.Add(time.Duration(n) * time.Second / AudioRate)
}

// Frames implements capture.FrameSource: frame n is the picture of the
// instant start + n/fps, rendered once that instant has come, so its time
// is exact whatever the scheduling. A reader more than five seconds
// behind skips ahead (Seq shows the gap).
func (d *Device) Frames(ctx context.Context, o capture.FrameOptions) (capture.FrameReader, error) {
	fps := o.FPS
	if fps <= 0 {
		fps = d.fps()
	}
	if fps > 120 {
		return nil, errors.New("frames: at most 120 frames a second")
	}
	return &frameReader{d: d, ctx: ctx, fps: fps, start: time.Now(), closed: make(chan struct{})}, nil
}

func (d *Device) fps() int {
	if d.cfg.FPS > 0 {
		return d.cfg.FPS
	}
	return capture.DefaultVideoOptions.FPS
}

type frameReader struct {
	d      *Device
	ctx    context.Context
	fps    int
	start  time.Time
	n      uint64
	closed chan struct{}
	once   sync.Once
}

// Next implements capture.FrameReader.
func (r *frameReader) Next(ctx context.Context) (capture.Frame, error) {
	period := time.Second / time.Duration(r.fps)
	t := r.start.Add(time.Duration(r.n) * period)
	if lag := time.Since(t); lag > maxLag {
		r.n += uint64(lag / period)
		t = r.start.Add(time.Duration(r.n) * period)
	}
	if err := sleepUntil(ctx, r.ctx, r.closed, t); err != nil {
		return capture.Frame{}, err
	}
	img := image.NewGray(image.Rect(0, 0, Width, Height))
	r.d.frame(img, t)
	f := capture.Frame{Image: img, Time: t, Seq: r.n}
	r.n++
	return f, nil
}

// FPS implements capture.FrameReader.
func (r *frameReader) FPS() int { return r.fps }

// Close implements capture.FrameReader.
func (r *frameReader) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// sleepUntil waits for t, or fails with the first context to end or the
// reader's closing.
func sleepUntil(ctx, readerCtx context.Context, closed <-chan struct{}, t time.Time) error {
	for _, c := range []context.Context{ctx, readerCtx} {
		if err := c.Err(); err != nil {
			return err
		}
	}
	wait := time.Until(t)
	if wait <= 0 {
		return nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-readerCtx.Done():
		return readerCtx.Err()
	case <-closed:
		return errClosed
	}
}

// audioChunk is the length of a live sound stretch.
const audioChunk = 20 * time.Millisecond

// Audio implements capture.AudioSource: stretches of 20 ms, each made once
// its time has come. A reader more than five seconds behind skips ahead
// (the next stretch's Time shows the gap).
func (d *Device) Audio(ctx context.Context) (capture.AudioReader, error) {
	return &audioReader{ctx: ctx, s: &synth{d: d, start: time.Now()}, closed: make(chan struct{})}, nil
}

type audioReader struct {
	ctx    context.Context
	s      *synth
	closed chan struct{}
	once   sync.Once
}

// Next implements capture.AudioReader.
func (r *audioReader) Next(ctx context.Context) (capture.Sound, error) {
	n := int(int64(audioChunk) * AudioRate / int64(time.Second))
	start := r.s.timeOf(r.s.n)
	if lag := time.Since(start); lag > maxLag {
		r.s.n += int64(lag) * AudioRate / int64(time.Second)
		start = r.s.timeOf(r.s.n)
	}
	if err := sleepUntil(ctx, r.ctx, r.closed, r.s.timeOf(r.s.n+int64(n))); err != nil {
		return capture.Sound{}, err
	}
	buf := make([]float32, n)
	r.s.fill(buf)
	return capture.Sound{Samples: buf, Rate: AudioRate, Channels: 1, Time: start}, nil
}

// Close implements capture.AudioReader.
func (r *audioReader) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}
