// Package virtual is the virtual device: a simulated TV in pure Go. Its
// screens are the nodes of a userinterface, remote keys move along the
// edges, and each screen renders to a 720p frame with a clock, a frame
// counter and an animation, and sounds a tone of its own. A userinterface
// can make it misbehave on purpose: a screen whose picture freezes or goes
// black, or whose sound is silent or loud; an edge that shows a black gap
// and a channel banner (a zap). Screenshots, video (with its sound track),
// live frames and live sound all come from the same rendering, so what the
// analysis finds in one it finds in the others.
package virtual

import (
	"context"
	"fmt"
	"image"
	"image/draw"
	"math"
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
	seed    int64
	rng     *rand.Rand
	pressed int
	dropped int
	frames  uint64
	// history is the screens shown, oldest first: a frame or a sound of
	// some instant shows the screen of that instant even when it is
	// rendered a little later (a reader behind, a recorder catching up).
	history []shown
}

// shown is one screen the device switched to, and how it appeared.
type shown struct {
	at        time.Time // when the edge was taken
	node      string
	black     time.Duration // black gap before the screen appears
	banner    string
	bannerFor time.Duration
	frame     uint64 // the frame counter then: a frozen picture keeps it
}

// historyLen bounds the screens remembered: far more than can change
// within the second a reader may lag.
const historyLen = 64

// New builds a virtual device showing u's entry node (the built-in
// userinterface when u is nil).
func New(cfg capture.DeviceConfig, u *ui.UI, ffmpeg string) *Device {
	if u == nil {
		u = ui.Builtin()
	}
	// Each run draws its own seed, so that a retry meets other drops; a
	// configured seed replays the drops of the run that recorded it.
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Int63n(maxSeed) + 1
	}
	d := &Device{cfg: cfg, ui: u, ffmpeg: ffmpeg, current: u.Entry, seed: seed, rng: rand.New(rand.NewSource(seed))}
	d.history = []shown{{at: time.Now(), node: u.Entry}}
	return d
}

// maxSeed bounds the seeds a run draws: numbers short enough to copy
// into seed: of vpt.yaml.
const maxSeed = 1_000_000_000

// Seed implements capture.Seeded: the seed of the key drops (0 when the
// device drops none).
func (d *Device) Seed() int64 {
	if d.cfg.DropRate <= 0 {
		return 0
	}
	return d.seed
}

// Info implements capture.Device.
func (d *Device) Info() capture.Info {
	return capture.Info{
		ID: d.cfg.ID, Name: d.cfg.Name, Model: d.cfg.Model, Driver: capture.DriverVirtual, Target: "virtual",
		UserInterface: d.ui.Name,
		Capabilities:  []string{capture.CapScreenshot, capture.CapVideo, capture.CapKeys, capture.CapScreen, capture.CapAudio},
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
	d.apply(key, d.keyAt)
	return nil
}

// apply moves along an edge when the keys pressed since the last move
// complete an edge's key sequence. Keys that start no sequence are ignored.
func (d *Device) apply(key string, now time.Time) {
	for _, seq := range [][]string{append(d.pending, key), {key}} {
		for _, e := range d.ui.Out(d.current) {
			keys := e.Keys()
			if equal(keys, seq) {
				d.showLocked(e.To, e, now)
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

// showLocked switches to node along e (the zero edge: no gap, no banner).
func (d *Device) showLocked(node string, e ui.Edge, now time.Time) {
	d.current = node
	d.pending = nil
	d.history = append(d.history, shown{at: now, node: node, black: e.Black,
		banner: e.Banner, bannerFor: e.BannerDuration(), frame: d.frames})
	if len(d.history) > historyLen {
		d.history = append(d.history[:0], d.history[len(d.history)-historyLen:]...)
	}
}

// shownAt is the screen shown at t.
func (d *Device) shownAt(t time.Time) shown {
	for i := len(d.history) - 1; i > 0; i-- {
		if !d.history[i].at.After(t) {
			return d.history[i]
		}
	}
	return d.history[0]
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
	img := newFrame(false)
	d.frame(img, time.Now())
	return img, nil
}

// Freeze implements capture.Freezer: the screen's state is taken now and
// drawn when the returned function runs. Nothing but vpt changes what the
// virtual device shows, so the picture is the one a Screenshot would give.
func (d *Device) Freeze() (func() image.Image, image.Point) {
	v := d.viewAt(time.Now())
	return func() image.Image {
		img := newFrame(true)
		d.draw(img, v)
		return img
	}, image.Pt(Width, Height)
}

// frame renders the picture shown at now into dst (RGBA or grey).
func (d *Device) frame(dst draw.Image, now time.Time) { d.draw(dst, d.viewAt(now)) }

// view is everything a frame of some instant shows.
type view struct {
	black bool
	s     screen
	// The clock's time and frame number; the animation's time.
	clock time.Time
	n     uint64
}

// viewAt works out the picture shown at t: black during an edge's gap and
// on black screens; on frozen screens the picture of the moment the screen
// appeared, with its clock stopped.
func (d *Device) viewAt(t time.Time) view {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.frames++
	h := d.shownAt(t)
	node, _ := d.ui.Node(h.node)
	appeared := h.at.Add(h.black)
	if t.Before(appeared) || node != nil && node.PictureOf() == ui.PictureBlack {
		return view{black: true}
	}
	v := view{clock: t, n: d.frames}
	if node != nil && node.PictureOf() == ui.PictureFrozen {
		v.clock, v.n = appeared, h.frame
		t = appeared
	}
	v.s = d.screenLocked(h, t, node)
	return v
}

// draw renders a view.
func (d *Device) draw(dst draw.Image, v view) {
	if v.black {
		drawBlack(dst)
		return
	}
	drawMoving(dst, statics.get(v.s), v.clock, v.n)
}

func (d *Device) screenLocked(h shown, t time.Time, node *ui.Node) screen {
	s := screen{title: h.node, device: d.cfg.ID}
	if node != nil {
		s.title = node.Label
		s.bg = parseColor(node.Color)
		if node.Color == "" {
			s.bg = parseColor(node.Label)
		}
	}
	frozen := node != nil && node.PictureOf() == ui.PictureFrozen
	for i, e := range d.ui.Out(h.node) {
		target := e.To
		if n, err := d.ui.Node(e.To); err == nil {
			target = n.Label
		}
		s.menu = append(s.menu, fmt.Sprintf("%s   [%s]", target, strings.Join(e.Keys(), " ")))
		// A frozen picture does not follow the keys pressed since.
		if !frozen && len(d.pending) > 0 && hasPrefix(e.Keys(), d.pending) && s.selected == 0 {
			s.selected = i
		}
	}
	if !frozen && d.lastKey != "" && !t.Before(d.keyAt) && t.Sub(d.keyAt) < time.Second {
		s.banner = "key: " + d.lastKey
	}
	if since := t.Sub(h.at.Add(h.black)); h.banner != "" && since >= 0 && since < h.bannerFor {
		s.zap = h.banner
	}
	return s
}

// setScreen shows a node at once (tests).
func (d *Device) setScreen(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.showLocked(id, ui.Edge{}, time.Now())
}

// StartVideo implements capture.Device: frames rendered at the configured
// rate, piped raw into ffmpeg, and the sound beside them on a second pipe;
// ffmpeg writes HLS segments with both.
func (d *Device) StartVideo(ctx context.Context, dir string, o capture.VideoOptions) (capture.Recorder, error) {
	if d.cfg.FPS > 0 {
		o.FPS = d.cfg.FPS
	}
	p, err := capture.StartFFmpegInputs(d.ffmpeg, capture.RawVideoArgs(dir, Width, Height, o, AudioRate), 2)
	if err != nil {
		return nil, err
	}
	r := &recorder{p: p, stop: make(chan struct{})}
	start := time.Now()
	r.wg.Add(2)
	go r.video(d, o.FPS, start)
	go r.audio(d, start)
	return r, nil
}

// Close implements capture.Device.
func (d *Device) Close() error { return nil }

type recorder struct {
	p        *capture.FFmpeg
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	mu       sync.Mutex
	err      error
	stopping bool // the pipes are being closed: failed writes are expected
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil && !r.stopping {
		r.err = err
	}
}

// video writes one frame per 1/fps of wall time. When it falls behind it
// writes the last frame again, so the video's length (frames ÷ fps) stays
// the wall time it covers.
func (r *recorder) video(d *Device, fps int, start time.Time) {
	defer r.wg.Done()
	out := r.p.Input(0)
	img := image.NewRGBA(image.Rect(0, 0, Width, Height))
	interval := time.Second / time.Duration(fps)
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
				r.fail(fmt.Errorf("video: ffmpeg stopped taking frames: %v: %s", err, r.p.Stderr()))
				return false
			}
		}
		return true
	}
	r.pace(ticker.C, catchUp)
}

// audio writes the sound due by the wall clock every 20 ms: sample k of
// the track plays at start + k/rate, as frame n of the video at start +
// n/fps, so picture and sound stay together.
func (r *recorder) audio(d *Device, start time.Time) {
	defer r.wg.Done()
	out := r.p.Input(1)
	s := &synth{d: d, start: start}
	var buf []float32
	var raw []byte
	ticker := time.NewTicker(audioChunk)
	defer ticker.Stop()
	catchUp := func() bool {
		due := int64(time.Since(start)) * AudioRate / int64(time.Second)
		n := int(due - s.n)
		if n <= 0 {
			return true
		}
		if cap(buf) < n {
			buf, raw = make([]float32, n), make([]byte, 2*n)
		}
		buf, raw = buf[:n], raw[:2*n]
		s.fill(buf)
		for i, v := range buf {
			x := int16(v * math.MaxInt16)
			raw[2*i], raw[2*i+1] = byte(x), byte(x>>8)
		}
		if _, err := out.Write(raw); err != nil {
			r.fail(fmt.Errorf("video: ffmpeg stopped taking sound: %v: %s", err, r.p.Stderr()))
			return false
		}
		return true
	}
	r.pace(ticker.C, catchUp)
}

// pace calls catchUp at every tick until the recording stops (once more
// then) or catchUp fails.
func (r *recorder) pace(tick <-chan time.Time, catchUp func() bool) {
	for {
		if !catchUp() {
			<-r.stop
			return
		}
		select {
		case <-r.stop:
			catchUp()
			return
		case <-tick:
		}
	}
}

// writerGrace is how long Stop lets the writers hand ffmpeg their last
// frame and sound.
const writerGrace = 3 * time.Second

// Stop implements capture.Recorder.
func (r *recorder) Stop(ctx context.Context) error {
	r.once.Do(func() {
		close(r.stop)
		// A writer still held up by ffmpeg after the grace is let go by
		// closing its pipe: the recording ends with what ffmpeg has.
		done := make(chan struct{})
		go func() { r.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(writerGrace):
		}
		r.mu.Lock()
		r.stopping = true
		r.mu.Unlock()
		err := r.p.Stop(10 * time.Second)
		<-done
		r.mu.Lock()
		r.stopping = false
		r.mu.Unlock()
		r.fail(err)
	})
	r.mu.Lock()
	defer r.mu.Unlock()
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
