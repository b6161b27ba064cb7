// Package virtual is the virtual device: a simulated TV in pure Go. Its
// screens are the nodes of a userinterface, remote keys move along the
// edges, and each screen renders to a 720p frame with a clock and a frame
// counter. Screenshots and video go through the same code as real devices.
package virtual

import (
	"context"
	"fmt"
	"image"
	"math/rand"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/ui"
)

func init() {
	capture.RegisterDriver(capture.DriverVirtual, func(cfg capture.DeviceConfig, env capture.Environment) (capture.Device, error) {
		var u *ui.UI
		if env.UserInterfaces != nil && cfg.UserInterface != "" {
			var err error
			if u, err = env.UserInterfaces(cfg.UserInterface); err != nil {
				return nil, err
			}
		}
		return New(cfg, u, env.Tool("ffmpeg")), nil
	})
}

// Device is a virtual TV. Its state (the screen it shows) lives as long as
// the value: one run.
type Device struct {
	cfg    capture.DeviceConfig
	ui     *ui.UI
	ffmpeg string

	mu      sync.Mutex
	current string
	pending []string // keys pressed since the last screen change
	lastKey string
	keyAt   time.Time
	rng     *rand.Rand
	pressed int
	dropped int
	frames  uint64

	// The last screen drawn without its clock, reused while it lasts.
	staticMu sync.Mutex
	static   *image.RGBA
	staticOf string
}

// New builds a virtual device showing u's entry node (the built-in
// userinterface when u is nil).
func New(cfg capture.DeviceConfig, u *ui.UI, ffmpeg string) *Device {
	if u == nil {
		u = ui.Builtin()
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = 1
	}
	return &Device{cfg: cfg, ui: u, ffmpeg: ffmpeg, current: u.Entry, rng: rand.New(rand.NewSource(seed))}
}

// Info implements capture.Device.
func (d *Device) Info() capture.Info {
	return capture.Info{
		ID: d.cfg.ID, Name: d.cfg.Name, Model: d.cfg.Model, Driver: capture.DriverVirtual, Target: "virtual",
		UserInterface: d.ui.Name,
		Capabilities:  []string{capture.CapScreenshot, capture.CapVideo, capture.CapKeys, capture.CapScreen},
	}
}

// Check implements capture.Device: a virtual device always answers.
func (d *Device) Check(ctx context.Context) error { return nil }

// CurrentScreen implements capture.Screens.
func (d *Device) CurrentScreen() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// Stats returns how many key presses it received and dropped.
func (d *Device) Stats() (pressed, dropped int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pressed, d.dropped
}

// Press implements capture.Device. The key takes effect after the
// configured latency; a configured fraction of presses is dropped, like an
// IR remote out of line of sight.
func (d *Device) Press(ctx context.Context, key string) error {
	key = capture.NormalizeKey(key)
	if !d.knows(key) {
		return &capture.UnknownKeyError{Key: key, Device: "the virtual remote", Known: d.keys()}
	}
	if d.cfg.KeyLatency > 0 {
		select {
		case <-time.After(d.cfg.KeyLatency):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pressed++
	if d.cfg.DropRate > 0 && d.rng.Float64() < d.cfg.DropRate {
		d.dropped++
		return nil
	}
	d.lastKey, d.keyAt = key, time.Now()
	d.apply(key)
	return nil
}

// apply moves along an edge when the keys pressed since the last move
// complete an edge's key sequence. Keys that start no sequence are ignored.
func (d *Device) apply(key string) {
	for _, seq := range [][]string{append(d.pending, key), {key}} {
		for _, e := range d.ui.Out(d.current) {
			keys := e.Keys()
			if equal(keys, seq) {
				d.current = e.To
				d.pending = nil
				return
			}
		}
		for _, e := range d.ui.Out(d.current) {
			if hasPrefix(e.Keys(), seq) {
				d.pending = seq
				return
			}
		}
	}
	d.pending = nil
}

func (d *Device) knows(key string) bool {
	if capture.IsStandardKey(key) {
		return true
	}
	for _, e := range d.ui.Edges {
		for _, k := range e.Keys() {
			if k == key {
				return true
			}
		}
	}
	return false
}

func (d *Device) keys() []string {
	set := map[string]bool{}
	for _, k := range capture.StandardKeys {
		set[k] = true
	}
	for _, e := range d.ui.Edges {
		for _, k := range e.Keys() {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}

// Tap implements capture.Device: the virtual TV has no touch screen.
func (d *Device) Tap(ctx context.Context, x, y int) error {
	return fmt.Errorf("tap: %w (the virtual device has a remote, use press)", capture.ErrNotSupported)
}

// Screenshot implements capture.Device.
func (d *Device) Screenshot(ctx context.Context) (image.Image, error) {
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	d.frame(img, time.Now())
	return img, nil
}

// Freeze implements capture.Freezer: the screen's state is taken now and
// drawn when the returned function runs. Nothing but vpt changes what the
// virtual device shows, so the picture is the one a Screenshot would give.
func (d *Device) Freeze() (func() image.Image, image.Point) {
	now := time.Now()
	d.mu.Lock()
	s := d.screenLocked(now)
	d.frames++
	n := d.frames
	d.mu.Unlock()
	return func() image.Image {
		img := image.NewRGBA(image.Rect(0, 0, Width, Height))
		drawClock(img, d.staticFor(s), now, n)
		return img
	}, image.Pt(Width, Height)
}

// frame renders the current screen into dst.
func (d *Device) frame(dst *image.RGBA, now time.Time) {
	d.mu.Lock()
	s := d.screenLocked(now)
	d.frames++
	n := d.frames
	d.mu.Unlock()
	drawClock(dst, d.staticFor(s), now, n)
}

// staticFor returns the picture of s without the clock, drawn once for as
// long as the screen stays the same.
func (d *Device) staticFor(s screen) *image.RGBA {
	k := s.key()
	d.staticMu.Lock()
	defer d.staticMu.Unlock()
	if d.staticOf != k {
		d.static, d.staticOf = renderStatic(s), k
	}
	return d.static
}

func (d *Device) screenLocked(now time.Time) screen {
	node, _ := d.ui.Node(d.current)
	s := screen{title: d.current, device: d.cfg.ID}
	if node != nil {
		s.title = node.Label
		s.bg = parseColor(node.Color)
		if node.Color == "" {
			s.bg = parseColor(node.Label)
		}
	}
	for i, e := range d.ui.Out(d.current) {
		target := e.To
		if n, err := d.ui.Node(e.To); err == nil {
			target = n.Label
		}
		s.menu = append(s.menu, fmt.Sprintf("%s   [%s]", target, strings.Join(e.Keys(), " ")))
		if len(d.pending) > 0 && hasPrefix(e.Keys(), d.pending) && s.selected == 0 {
			s.selected = i
		}
	}
	if d.lastKey != "" && now.Sub(d.keyAt) < time.Second {
		s.banner = "key: " + d.lastKey
	}
	return s
}

// StartVideo implements capture.Device: frames rendered at the configured
// rate, piped raw into ffmpeg, which writes HLS segments.
func (d *Device) StartVideo(ctx context.Context, dir string, o capture.VideoOptions) (capture.Recorder, error) {
	if d.cfg.FPS > 0 {
		o.FPS = d.cfg.FPS
	}
	p, err := capture.StartFFmpeg(d.ffmpeg, capture.RawVideoArgs(dir, Width, Height, o), true)
	if err != nil {
		return nil, err
	}
	r := &recorder{p: p, stop: make(chan struct{}), done: make(chan struct{})}
	go r.run(d, o.FPS)
	return r, nil
}

// Close implements capture.Device.
func (d *Device) Close() error { return nil }

type recorder struct {
	p    *capture.FFmpeg
	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error
}

// run writes one frame per 1/fps of wall time. When it falls behind it
// writes the last frame again, so the video's length (frames ÷ fps) stays
// the wall time it covers.
func (r *recorder) run(d *Device, fps int) {
	defer close(r.done)
	out := r.p.Stdin()
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	interval := time.Second / time.Duration(fps)
	start := time.Now()
	var written int64
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	catchUp := func() bool {
		due := int64(time.Since(start)/interval) + 1
		if written >= due {
			return true
		}
		d.frame(img, time.Now())
		for ; written < due; written++ {
			if _, err := out.Write(img.Pix); err != nil {
				r.err = fmt.Errorf("video: ffmpeg stopped taking frames: %v: %s", err, r.p.Stderr())
				return false
			}
		}
		return true
	}
	for {
		if !catchUp() {
			<-r.stop
			return
		}
		select {
		case <-r.stop:
			catchUp()
			return
		case <-ticker.C:
		}
	}
}

// Stop implements capture.Recorder.
func (r *recorder) Stop(ctx context.Context) error {
	r.once.Do(func() {
		close(r.stop)
		<-r.done
		err := r.p.Stop(10 * time.Second)
		if r.err == nil {
			r.err = err
		}
	})
	return r.err
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func hasPrefix(seq, prefix []string) bool {
	return len(prefix) < len(seq) && equal(seq[:len(prefix)], prefix)
}
