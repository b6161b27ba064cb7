package picture

import (
	"errors"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

func grey(w, h int, v uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = v
	}
	return g
}

func fill(g *image.Gray, r image.Rectangle, v uint8) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			g.SetGray(x, y, struct{ Y uint8 }{v})
		}
	}
}

func TestIsBlack(t *testing.T) {
	// Limited-range black with a little noise is black.
	g := grey(1280, 720, 16)
	for i := 0; i < len(g.Pix); i += 7 {
		g.Pix[i] = 22
	}
	if b, err := IsBlack(g, BlackOptions{}); err != nil || !b.Black || b.Dark != 1 {
		t.Fatalf("black: %+v %v", b, err)
	}
	// A 90%-dark picture with content on the rest is not black.
	fill(g, image.Rect(0, 0, 128, 720), 200)
	if b, _ := IsBlack(g, BlackOptions{}); b.Black || b.Dark < 0.89 || b.Dark > 0.91 {
		t.Fatalf("90%% dark: %+v", b)
	}
	// ... but its dark part is.
	if b, _ := IsBlack(g, BlackOptions{Region: image.Rect(200, 0, 1280, 720)}); !b.Black {
		t.Fatalf("dark region: %+v", b)
	}
	// 99% dark passes the default ratio, not a stricter one.
	g = grey(100, 100, 0)
	fill(g, image.Rect(0, 0, 100, 1), 255)
	if b, _ := IsBlack(g, BlackOptions{}); !b.Black {
		t.Fatalf("99%%: %+v", b)
	}
	if b, _ := IsBlack(g, BlackOptions{Ratio: 1}); b.Black {
		t.Fatalf("99%% with ratio 1: %+v", b)
	}
	// A threshold above the picture's level makes a dim picture dark.
	if b, _ := IsBlack(grey(10, 10, 60), BlackOptions{Threshold: 60}); !b.Black {
		t.Fatalf("threshold: %+v", b)
	}
}

func TestMotion(t *testing.T) {
	a, b := grey(1280, 720, 50), grey(1280, 720, 50)
	// Noise below the threshold everywhere is no motion.
	for i := range b.Pix {
		b.Pix[i] = 50 + uint8(i%20)
	}
	if m, err := Compare(a, b, MotionOptions{}); err != nil || m.Moved || m.Changed != 0 || !m.Box.Empty() {
		t.Fatalf("noise: %+v %v", m, err)
	}
	// A 40x40 square that changed: 0.17% of the frame, found where it is.
	sq := image.Rect(600, 300, 640, 340)
	fill(b, sq, 220)
	m, _ := Compare(a, b, MotionOptions{})
	if !m.Moved || m.Box != sq {
		t.Fatalf("square: %+v", m)
	}
	// Too small for a stricter minimum; outside a region that leaves it out.
	if m, _ := Compare(a, b, MotionOptions{MinChanged: 0.01}); m.Moved {
		t.Fatalf("min changed: %+v", m)
	}
	if m, _ := Compare(a, b, MotionOptions{Region: image.Rect(0, 0, 500, 720)}); m.Moved {
		t.Fatalf("region: %+v", m)
	}
	if m, _ := Compare(a, b, MotionOptions{Region: image.Rect(590, 290, 650, 350)}); !m.Moved || m.Changed < 0.4 {
		t.Fatalf("region around it: %+v", m)
	}
}

func TestBadInput(t *testing.T) {
	g := grey(1280, 720, 0)
	for _, r := range []image.Rectangle{image.Rect(1200, 0, 1300, 100), image.Rect(-1, 0, 10, 10), capture.RegionOf(10, 10, -5, 5), capture.RegionOf(10, 10, 0, 5)} {
		_, err := IsBlack(g, BlackOptions{Region: r})
		if !errors.Is(err, capture.ErrRegion) {
			t.Fatalf("region %v: %v", r, err)
		}
		if _, err := Compare(g, g, MotionOptions{Region: r}); !errors.Is(err, capture.ErrRegion) {
			t.Fatalf("motion region %v: %v", r, err)
		}
	}
	_, err := IsBlack(g, BlackOptions{Region: capture.RegionOf(1200, 0, 100, 100)})
	if err == nil || err.Error() != "bad region: region [1200, 0, 100, 100] is outside the 1280x720 frame" {
		t.Fatalf("message: %v", err)
	}
	if _, err := Compare(g, grey(640, 360, 0), MotionOptions{}); err == nil || !strings.Contains(err.Error(), "different sizes") {
		t.Fatalf("sizes: %v", err)
	}
	for _, o := range []BlackOptions{{Threshold: 300}, {Threshold: -1}, {Ratio: 1.5}, {Ratio: -0.1}} {
		if _, err := IsBlack(g, o); !errors.Is(err, ErrOptions) {
			t.Fatalf("%+v: %v", o, err)
		}
	}
	for _, s := range []string{"", "a/b", "0/5", "10/5", "3/2000"} {
		if _, err := ParseConsecutive(s); !errors.Is(err, ErrOptions) {
			t.Fatalf("consecutive %q: %v", s, err)
		}
	}
	if c, err := ParseConsecutive(" 10/20 "); err != nil || c != (Consecutive{10, 20}) {
		t.Fatalf("10/20: %v %v", c, err)
	}
	if c, _ := ParseConsecutive("5"); c != (Consecutive{5, 5}) {
		t.Fatalf("5: %v", c)
	}
	if _, err := NewWatch(WatchOptions{Freeze: -time.Second}); !errors.Is(err, ErrOptions) {
		t.Fatalf("negative freeze: %v", err)
	}
	if _, err := NewTransition(time.Now(), TransitionOptions{Stable: -time.Second}); !errors.Is(err, ErrOptions) {
		t.Fatalf("negative stable: %v", err)
	}
}

// frames makes a stream from pictures, one every period from base.
func frames(base time.Time, period time.Duration, pics ...*image.Gray) []capture.Frame {
	out := make([]capture.Frame, len(pics))
	for i, p := range pics {
		out[i] = capture.Frame{Image: p, Time: base.Add(time.Duration(i) * period), Seq: uint64(i)}
	}
	return out
}

func TestConsecutive(t *testing.T) {
	w, err := NewWatch(WatchOptions{Consecutive: Consecutive{3, 5}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := grey(64, 64, 0), grey(64, 64, 200)
	// Moves: -, 1, 0, 1, 0, 1 → 3 of the last 5 at the sixth frame.
	seq := []*image.Gray{a, b, b, a, a, b}
	var moving []bool
	for _, f := range frames(time.Unix(0, 0), 40*time.Millisecond, seq...) {
		ob, err := w.Add(f)
		if err != nil {
			t.Fatal(err)
		}
		moving = append(moving, ob.Moving)
	}
	if !moving[5] || moving[4] {
		t.Fatalf("moving %v", moving)
	}
}

func TestTransitionSynthetic(t *testing.T) {
	menu, black, next := grey(320, 180, 90), grey(320, 180, 0), grey(320, 180, 150)
	base := time.Unix(100, 0)
	p := 40 * time.Millisecond
	// Two frames before the press, 5 black, 30 of the next screen.
	var pics []*image.Gray
	pics = append(pics, menu, menu)
	for i := 0; i < 5; i++ {
		pics = append(pics, black)
	}
	for i := 0; i < 30; i++ {
		pics = append(pics, next)
	}
	d, _ := NewTransition(base.Add(p), TransitionOptions{Stable: 400 * time.Millisecond})
	for _, f := range frames(base, p, pics...) {
		if done, err := d.Add(f); err != nil || done {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	tr := d.Result()
	if tr.Status != Complete || tr.Started != base.Add(2*p) || tr.BlackStart != base.Add(2*p) || tr.BlackEnd != base.Add(7*p) ||
		tr.Settled != base.Add(7*p) || tr.BlackGap() != 5*p || tr.Duration() != 6*p || tr.PictureBack() != 6*p || tr.Period != p {
		t.Fatalf("transition %+v", tr)
	}
	// Nothing changes: a start timeout.
	d, _ = NewTransition(base, TransitionOptions{Timeout: 200 * time.Millisecond})
	for _, f := range frames(base, p, menu, menu, menu, menu, menu, menu, menu, menu) {
		d.Add(f)
	}
	if tr := d.Result(); tr.Status != StartTimeout || !tr.Started.IsZero() {
		t.Fatalf("no change %+v", tr)
	}
	// Never still: a stable timeout.
	d, _ = NewTransition(base, TransitionOptions{Timeout: 200 * time.Millisecond, Stable: 100 * time.Millisecond})
	for _, f := range frames(base, p, menu, next, menu, next, menu, next, menu, next) {
		d.Add(f)
	}
	if tr := d.Result(); tr.Status != StableTimeout || tr.Started != base.Add(p) {
		t.Fatalf("flicker %+v", tr)
	}
}
