package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// frameMaxAge is how old the latest frame may be before the pipeline
// counts as stalled (a card that lost its signal, a dead ffmpeg).
const frameMaxAge = 2 * time.Second

// frameWait bounds how long a screenshot waits for a fresh frame (the
// first frames of a pipeline that just started).
const frameWait = 5 * time.Second

// Pipeline is one ffmpeg reading a capture source (an HDMI card, a
// display, a test source): it keeps the latest frame for screenshots and,
// while recording, writes HLS segments. HDMI and host-display devices use
// it; screenshots come from the same frames as the video.
type Pipeline struct {
	Source CaptureSource
	FFmpeg string
	// ShotFPS is how often the latest frame is refreshed (default 5).
	ShotFPS int
	// FramesFPS is the rate of the live grey frames (Frames): 0 means the
	// source's rate, a negative value none.
	FramesFPS int

	hub      frameHub
	mu       sync.Mutex
	proc     *FFmpeg
	dir      string
	tmpDir   bool
	recorder bool
}

// Running reports whether ffmpeg runs.
func (p *Pipeline) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc != nil
}

// ensure starts a screenshot-only pipeline when none runs.
func (p *Pipeline) ensure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		if p.recorder || p.proc.EndedEarly() == nil {
			return nil
		}
		// A screenshot pipeline whose source went away (a display that
		// restarted, a capture card unplugged): try the source again, so
		// a device that comes back answers. A recording stays ended: its
		// Stop says so.
		p.stopLocked()
	}
	dir, err := os.MkdirTemp("", "vpt-frames-")
	if err != nil {
		return err
	}
	if err := p.startLocked(dir, false, DefaultVideoOptions); err != nil {
		os.RemoveAll(dir)
		return err
	}
	p.tmpDir = true
	return nil
}

func (p *Pipeline) startLocked(dir string, record bool, o VideoOptions) error {
	fps := p.framesFPS()
	proc, err := startFFmpeg(p.FFmpeg, CaptureArgs(dir, p.Source, o, p.ShotFPS, record, fps), 0, fps > 0)
	if err != nil {
		return err
	}
	p.proc, p.dir, p.recorder = proc, dir, record
	if fps > 0 {
		go p.hub.feed(proc.stdout)
	}
	return nil
}

func (p *Pipeline) framesFPS() int {
	switch {
	case p.FramesFPS < 0:
		return 0
	case p.FramesFPS > 0:
		return p.FramesFPS
	case p.Source.FPS > 0:
		return p.Source.FPS
	}
	return DefaultVideoOptions.FPS
}

// Frames implements FrameSource: the grey frames the pipeline's ffmpeg
// writes beside its screenshots and recording, PipelineFrameSize, timed
// when they arrive. A reader that falls more than two seconds behind
// loses frames (Seq shows the gap); ffmpeg is never held up. A restart of
// the pipeline (when a recording starts) leaves a short gap.
func (p *Pipeline) Frames(ctx context.Context, o FrameOptions) (FrameReader, error) {
	fps := p.framesFPS()
	if fps <= 0 {
		return nil, fmt.Errorf("%w: this capture pipeline gives no live frames", ErrNotSupported)
	}
	if o.FPS > 0 && o.FPS != fps {
		return nil, fmt.Errorf("frames: this capture pipeline gives %d frames a second, not %d (set fps: on the device)", fps, o.FPS)
	}
	if err := p.ensure(); err != nil {
		return nil, err
	}
	return &hubReader{p: p, ctx: ctx, start: p.hub.nextSeq(), fps: fps}, nil
}

// frameHub keeps the last frames of a pipeline for its readers.
type frameHub struct {
	mu   sync.Mutex
	ring [64]Frame
	next uint64        // the seq of the next frame
	wake chan struct{} // closed at every new frame
}

func (h *frameHub) nextSeq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.next
}

// feed reads frames from ffmpeg until it ends.
func (h *frameHub) feed(r io.Reader) {
	size := PipelineFrameSize.X * PipelineFrameSize.Y
	for {
		img := image.NewGray(image.Rectangle{Max: PipelineFrameSize})
		if _, err := io.ReadFull(r, img.Pix[:size]); err != nil {
			return
		}
		h.mu.Lock()
		h.ring[h.next%uint64(len(h.ring))] = Frame{Image: img, Time: time.Now(), Seq: h.next}
		h.next++
		if h.wake != nil {
			close(h.wake)
			h.wake = nil
		}
		h.mu.Unlock()
	}
}

// get returns the frame seq, or the oldest kept when seq is gone, or a
// channel closed when the next frame comes.
func (h *frameHub) get(seq uint64) (Frame, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq < h.next {
		oldest := uint64(0)
		if h.next > uint64(len(h.ring)) {
			oldest = h.next - uint64(len(h.ring))
		}
		return h.ring[max(seq, oldest)%uint64(len(h.ring))], true, nil
	}
	if h.wake == nil {
		h.wake = make(chan struct{})
	}
	return Frame{}, false, h.wake
}

type hubReader struct {
	p     *Pipeline
	ctx   context.Context
	start uint64
	want  uint64 // relative to start
	fps   int
}

// Next implements FrameReader.
func (r *hubReader) Next(ctx context.Context) (Frame, error) {
	deadline := time.NewTimer(frameWait)
	defer deadline.Stop()
	for {
		f, ok, wake := r.p.hub.get(r.start + r.want)
		if ok {
			f.Seq -= r.start
			r.want = f.Seq + 1
			return f, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		case <-r.ctx.Done():
			return Frame{}, r.ctx.Err()
		case <-deadline.C:
			return Frame{}, fmt.Errorf("%w after %s (is the source connected? %s)", ErrStalled, frameWait, r.p.Source.Input)
		}
	}
}

// FPS implements FrameReader.
func (r *hubReader) FPS() int { return r.fps }

// Close implements FrameReader.
func (r *hubReader) Close() error { return nil }

// Record (re)starts the pipeline recording into dir. It returns once the
// first frame has come through, so that what the caller does next is in
// the video, or fails if ffmpeg ends before that.
func (p *Pipeline) Record(dir string, o VideoOptions) (Recorder, error) {
	p.mu.Lock()
	if p.proc != nil {
		p.stopLocked()
	}
	if err := p.startLocked(dir, true, o); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	proc := p.proc
	p.mu.Unlock()
	deadline := time.Now().Add(frameWait)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, LatestFrame)); err == nil {
			break
		}
		select {
		case <-proc.Exited():
			err := fmt.Errorf("%w: ffmpeg exited (%v): %s", ErrUnreachable, proc.ExitErr(), proc.Stderr())
			p.Close()
			return nil, err
		case <-time.After(10 * time.Millisecond):
		}
	}
	// A source that gives no picture yet is recorded from whenever it does;
	// its screenshots say it has stalled.
	return pipelineRecorder{p}, nil
}

type pipelineRecorder struct{ p *Pipeline }

// Stop ends the recording; the run's screenshots after it start a
// screenshot-only pipeline again.
func (r pipelineRecorder) Stop(ctx context.Context) error {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	if r.p.proc == nil || !r.p.recorder {
		return nil
	}
	early := r.p.proc.EndedEarly()
	if err := r.p.stopLocked(); early == nil {
		return err
	}
	return early
}

func (p *Pipeline) stopLocked() error {
	err := p.proc.Stop(10 * time.Second)
	if p.tmpDir {
		os.RemoveAll(p.dir)
	}
	p.proc, p.dir, p.tmpDir, p.recorder = nil, "", false, false
	return err
}

// Close stops the pipeline.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	return p.stopLocked()
}

// ErrStalled: the capture source gives no fresh frames.
var ErrStalled = errors.New("no fresh frame from the capture source")

// Latest returns the newest frame, starting the pipeline if needed and
// waiting for a fresh frame at most frameWait.
func (p *Pipeline) Latest(ctx context.Context) (image.Image, error) {
	if err := p.ensure(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(frameWait)
	for {
		p.mu.Lock()
		dir, proc := p.dir, p.proc
		p.mu.Unlock()
		if proc == nil {
			return nil, fmt.Errorf("%w: the capture pipeline stopped", ErrStalled)
		}
		select {
		case <-proc.Exited():
			return nil, fmt.Errorf("%w: ffmpeg exited (%v): %s", ErrUnreachable, proc.ExitErr(), proc.Stderr())
		default:
		}
		path := filepath.Join(dir, LatestFrame)
		if st, err := os.Stat(path); err == nil && time.Since(st.ModTime()) < frameMaxAge {
			img, err := readPPM(path)
			if err == nil {
				return img, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w after %s (is the source connected? %s)", ErrStalled, frameWait, p.Source.Input)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readPPM reads a binary PPM (P6, 8 bits) into an RGBA image.
func readPPM(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var w, h, maxval int
	rest := b
	fields := make([]int, 0, 3)
	if !bytes.HasPrefix(rest, []byte("P6")) {
		return nil, fmt.Errorf("%s: not a binary PPM", path)
	}
	rest = rest[2:]
	for len(fields) < 3 {
		// Whitespace and comments, then a number.
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\n' || rest[0] == '\r' || rest[0] == '\t' || rest[0] == '#') {
			if rest[0] == '#' {
				if i := bytes.IndexByte(rest, '\n'); i >= 0 {
					rest = rest[i:]
				}
			}
			rest = rest[1:]
		}
		n := 0
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			n = n*10 + int(rest[i]-'0')
			i++
		}
		if i == 0 {
			return nil, fmt.Errorf("%s: bad PPM header", path)
		}
		fields = append(fields, n)
		rest = rest[i:]
	}
	w, h, maxval = fields[0], fields[1], fields[2]
	if len(rest) < 1 || maxval != 255 || w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%s: unsupported PPM", path)
	}
	rest = rest[1:] // the single whitespace before the pixels
	if len(rest) < w*h*3 {
		return nil, fmt.Errorf("%s: short PPM", path)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	pix := img.Pix
	for i, j := 0, 0; j < w*h*3; i, j = i+4, j+3 {
		pix[i], pix[i+1], pix[i+2], pix[i+3] = rest[j], rest[j+1], rest[j+2], 0xff
	}
	return img, nil
}
