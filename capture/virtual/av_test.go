package virtual

import (
	"context"
	"errors"
	"image"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/avcheck"
	"github.com/vpt-dev/vpt/capture/ocr"
	"github.com/vpt-dev/vpt/capture/picture"
	"github.com/vpt-dev/vpt/capture/sound"
	"github.com/vpt-dev/vpt/internal/ui"
)

// zapUI has a moving live screen whose CH_UP zaps through a black gap
// with a banner, a frozen, a black, a silent and a loud screen.
func zapUI(t *testing.T, gap time.Duration) *ui.UI {
	t.Helper()
	src := `name: zap
nodes:
  - {id: live, label: Live TV}
  - {id: stuck, label: Stuck, picture: frozen}
  - {id: dark, label: Dark, picture: black}
  - {id: quiet, label: Quiet, sound: silent}
  - {id: loud, label: Loud, sound: loud, tone: 1000}
edges:
  - {from: live, to: live, actions: [{action: press_key, key: CH_UP}], black: ` + gap.String() + `, banner: "2 BBC Two", banner_for: 2s}
  - {from: live, to: stuck, actions: [{action: press_key, key: "1"}]}
  - {from: live, to: dark, actions: [{action: press_key, key: "2"}]}
  - {from: live, to: quiet, actions: [{action: press_key, key: "3"}]}
  - {from: live, to: loud, actions: [{action: press_key, key: "4"}]}
  - {from: stuck, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: dark, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: quiet, to: live, actions: [{action: press_key, key: BACK}]}
  - {from: loud, to: live, actions: [{action: press_key, key: BACK}]}
`
	u, err := ui.Parse("zap.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func needTools(t *testing.T, tools ...string) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (see .ci/run for the packages)", tool)
		}
	}
}

// Every screen's title of the examples' userinterfaces and of the built-in
// one reads back by OCR, and so does every banner.
func TestOCROfEveryScreen(t *testing.T) {
	needTools(t, "tesseract")
	ctx := context.Background()
	horizon, err := ui.Load(filepath.Join("..", "..", "examples", "userinterfaces", "horizon_tv.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := ocr.New("")
	for _, u := range []*ui.UI{ui.Builtin(), horizon} {
		d := New(capture.DeviceConfig{ID: "device1"}, u, "ffmpeg")
		for _, n := range u.Nodes {
			d.setScreen(n.ID)
			shot, _ := d.Screenshot(ctx)
			r, err := e.Read(ctx, shot, ocr.Options{Region: TitleBox})
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := (ocr.Pattern{Text: n.Label, CaseSensitive: true}).Match(r.Text); !ok {
				t.Errorf("%s/%s: read %q, want %q", u.Name, n.ID, r.Text, n.Label)
			}
		}
		for _, edge := range u.Edges {
			if edge.Banner == "" {
				continue
			}
			d.setScreen(edge.From)
			for _, k := range edge.Keys() {
				d.Press(ctx, k)
			}
			time.Sleep(edge.Black + 50*time.Millisecond)
			shot, _ := d.Screenshot(ctx)
			r, err := e.Read(ctx, shot, ocr.Options{Region: BannerBox})
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != edge.Banner {
				t.Errorf("%s: banner of %s→%s read %q, want %q", u.Name, edge.From, edge.To, r.Text, edge.Banner)
			}
		}
	}
}

// collect reads frames until stop is closed.
func collect(t *testing.T, r capture.FrameReader, stop <-chan struct{}) <-chan []capture.Frame {
	out := make(chan []capture.Frame, 1)
	go func() {
		var fs []capture.Frame
		for {
			select {
			case <-stop:
				out <- fs
				return
			default:
			}
			f, err := r.Next(context.Background())
			if err != nil {
				t.Error(err)
				out <- fs
				return
			}
			fs = append(fs, f)
		}
	}()
	return out
}

// The zap's black gap, measured on the device's own frames, is the
// configured one within a frame; the picture settles on its first frame
// after the gap (the title region, which the animation leaves alone).
func TestZapGapFromFrames(t *testing.T) {
	for _, c := range []struct {
		fps int
		gap time.Duration
	}{{10, 500 * time.Millisecond}, {25, 600 * time.Millisecond}, {50, 320 * time.Millisecond}} {
		ctx := context.Background()
		d := New(capture.DeviceConfig{ID: "device1"}, zapUI(t, c.gap), "ffmpeg")
		fr, err := d.Frames(ctx, capture.FrameOptions{FPS: c.fps})
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		got := collect(t, fr, stop)
		time.Sleep(300 * time.Millisecond)
		pressed := time.Now()
		if err := d.Press(ctx, "CH_UP"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(c.gap + 1500*time.Millisecond)
		close(stop)
		frames := <-got
		fr.Close()
		det, err := picture.NewTransition(pressed, picture.TransitionOptions{Stable: 500 * time.Millisecond,
			Motion: picture.MotionOptions{Region: TitleBox}})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			if done, err := det.Add(f); err != nil || done {
				break
			}
		}
		tr := det.Result()
		period := time.Second / time.Duration(c.fps)
		if tr.Status != picture.Complete || tr.Period != period {
			t.Fatalf("%d fps: transition %+v", c.fps, tr)
		}
		if d := tr.BlackGap() - c.gap; d > period || d < -period {
			t.Errorf("%d fps: black gap %s, configured %s (one frame is %s)", c.fps, tr.BlackGap(), c.gap, period)
		}
		if d := tr.PictureBack() - c.gap; d > period || d < -period {
			t.Errorf("%d fps: picture back after %s, configured gap %s", c.fps, tr.PictureBack(), c.gap)
		}
		if tr.Settled != tr.BlackEnd || tr.Started != tr.BlackStart {
			t.Errorf("%d fps: started %s settled %s, black %s..%s", c.fps, tr.Started, tr.Settled, tr.BlackStart, tr.BlackEnd)
		}
	}
}

// Moving screens move in every frame at any rate, for vpt's motion test
// and beyond ffmpeg freezedetect's noise; frozen screens never do; black
// screens are black.
func TestPictureBehaviours(t *testing.T) {
	ctx := context.Background()
	d := New(capture.DeviceConfig{ID: "device1"}, zapUI(t, time.Second), "ffmpeg")
	for _, fps := range []int{10, 25, 60} {
		for _, screen := range []string{"live", "stuck", "dark"} {
			d.setScreen(screen)
			fr, _ := d.Frames(ctx, capture.FrameOptions{FPS: fps})
			w, _ := picture.NewWatch(picture.WatchOptions{Freeze: 200 * time.Millisecond})
			var obs []picture.Observation
			var mafd float64
			var prev capture.Frame
			for i := 0; i < 15; i++ {
				f, err := fr.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ob, _ := w.Add(f)
				obs = append(obs, ob)
				if i > 0 {
					mafd = max(mafd, meanAbsDiff(prev.Image.Pix, f.Image.Pix))
				}
				prev = f
			}
			fr.Close()
			s := w.Summary(time.Time{})
			switch screen {
			case "live":
				if s.MotionRatio != 1 || len(s.Frozen) != 0 || len(s.Black) != 0 || mafd < 0.001 {
					t.Errorf("%d fps, moving: %+v, mean difference %.4f", fps, s, mafd)
				}
			case "stuck":
				if s.MotionRatio != 0 || len(s.Frozen) != 1 || mafd != 0 {
					t.Errorf("%d fps, frozen: %+v", fps, s)
				}
			case "dark":
				if !obs[len(obs)-1].Black.Black || len(s.Black) != 1 || len(s.Frozen) != 0 {
					t.Errorf("%d fps, black: %+v", fps, s)
				}
			}
		}
	}
}

// meanAbsDiff is freezedetect's measure: the mean absolute difference of
// two frames, 0..1.
func meanAbsDiff(a, b []uint8) float64 {
	var sum int
	for i := range a {
		d := int(a[i]) - int(b[i])
		sum += max(d, -d)
	}
	return float64(sum) / float64(len(a)) / 255
}

// The live sound: each screen's tone at its level and frequency, silence
// on silent screens and during a zap's gap.
func TestSoundBehaviours(t *testing.T) {
	ctx := context.Background()
	u := zapUI(t, 400*time.Millisecond)
	d := New(capture.DeviceConfig{ID: "device1"}, u, "ffmpeg")
	listen := func(d time.Duration, ar capture.AudioReader) capture.Sound {
		var all capture.Sound
		for all.Duration() < d {
			s, err := ar.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if all.Rate == 0 {
				all = s
				continue
			}
			all.Samples = append(all.Samples, s.Samples...)
		}
		return all
	}
	for _, c := range []struct {
		screen string
		rms    float64
		freq   float64
	}{{"live", ToneRMS, ui.ToneBase}, {"loud", LoudRMS, 1000}, {"quiet", sound.MinDB, 0}} {
		d.setScreen(c.screen)
		ar, _ := d.Audio(ctx)
		s := listen(300*time.Millisecond, ar)
		ar.Close()
		if got := sound.RMS(s); math.Abs(got-c.rms) > 0.1 {
			t.Errorf("%s: %.2f dBFS, want %.1f", c.screen, got, c.rms)
		}
		if got := frequency(s); math.Abs(got-c.freq) > 5 {
			t.Errorf("%s: %.0f Hz, want %.0f", c.screen, got, c.freq)
		}
	}
	d.setScreen("live")
	ar, _ := d.Audio(ctx)
	time.Sleep(100 * time.Millisecond)
	if err := d.Press(ctx, "CH_UP"); err != nil {
		t.Fatal(err)
	}
	s := listen(time.Second, ar)
	ar.Close()
	sil, _ := sound.Silences(s, sound.SilenceOptions{})
	if len(sil) != 1 || math.Abs((sil[0].Duration()-400*time.Millisecond).Seconds()) > 0.002 {
		t.Fatalf("zap silence %v, want 400ms", sil)
	}
}

// frequency counts upward zero crossings.
func frequency(s capture.Sound) float64 {
	n := 0
	for i := 1; i < len(s.Samples); i++ {
		if s.Samples[i-1] < 0 && s.Samples[i] >= 0 {
			n++
		}
	}
	return float64(n) / s.Duration().Seconds()
}

// The recording carries the sound beside the picture, and ffmpeg's
// detectors find in it what the device showed: the frozen and black
// screens, the silent one, and nothing on the moving one.
func TestRecordingAnalysed(t *testing.T) {
	needTools(t, "ffmpeg", "ffprobe")
	ctx := context.Background()
	dir := t.TempDir()
	d := New(capture.DeviceConfig{ID: "device1"}, zapUI(t, time.Second), "ffmpeg")
	rec, err := d.StartVideo(ctx, dir, capture.DefaultVideoOptions)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	marks := map[string]time.Duration{}
	show := func(key, name string, hold time.Duration) {
		if err := d.Press(ctx, key); err != nil {
			t.Fatal(err)
		}
		marks[name] = time.Since(start)
		time.Sleep(hold)
	}
	time.Sleep(2 * time.Second)
	show("1", "stuck", 3*time.Second)
	show("BACK", "live", 2*time.Second)
	show("2", "dark", 3*time.Second)
	show("BACK", "live2", 2*time.Second)
	show("3", "quiet", 2*time.Second)
	show("BACK", "end", 2*time.Second)
	if err := rec.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "video.mp4")
	if err := capture.Finalise(ctx, "ffmpeg", dir, out, "copy"); err != nil {
		t.Fatal(err)
	}
	r, err := avcheck.Analyze(ctx, "ffmpeg", "ffprobe", out, avcheck.Options{Video: true, Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	// The recorder repeats frames when the machine holds it up: the
	// stretches are where the device showed them, give or take that.
	tol := time.Second
	near := func(what string, got avcheck.Interval, start, end time.Duration) {
		if d := got.Start - start; d > tol || d < -tol {
			t.Errorf("%s starts at %s, the device switched at %s", what, got.Start, start)
		}
		if d := got.End - end; d > tol || d < -tol {
			t.Errorf("%s ends at %s, the device switched at %s", what, got.End, end)
		}
	}
	if len(r.Frozen) != 1 || len(r.Black) != 1 {
		t.Fatalf("frozen %v, black %v", r.Frozen, r.Black)
	}
	near("freeze", r.Frozen[0], marks["stuck"], marks["live"])
	near("black", r.Black[0], marks["dark"], marks["live2"])
	// The zap-less screen changes are silent only on the silent screen.
	if len(r.Silent) != 1 {
		t.Fatalf("silent %v", r.Silent)
	}
	near("silence", r.Silent[0], marks["quiet"], marks["end"])
	if l := r.Loudness; math.Abs(l.Integrated-(ToneRMS+0.5)) > 1.5 {
		t.Errorf("loudness %+v, the tones are at %.0f dBFS", l, ToneRMS)
	}
}

func TestFramesBadInput(t *testing.T) {
	d := New(capture.DeviceConfig{ID: "device1"}, nil, "ffmpeg")
	if _, err := d.Frames(context.Background(), capture.FrameOptions{FPS: 500}); err == nil {
		t.Fatal("500 fps accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	fr, _ := d.Frames(ctx, capture.FrameOptions{})
	cancel()
	if _, err := fr.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("after the reader's context ended: %v", err)
	}
}

// A live grey frame is the screenshot of the same instant in grey (to a
// step of luma, where text edges are blended in the other colour space).
func TestGreyFramesAreTheScreenshots(t *testing.T) {
	d := New(capture.DeviceConfig{ID: "device1"}, zapUI(t, time.Second), "ffmpeg")
	for _, screen := range []string{"live", "stuck", "dark"} {
		d.setScreen(screen)
		now := time.Now()
		v := d.viewAt(now)
		rgba := image.NewRGBA(image.Rect(0, 0, Width, Height))
		g := image.NewGray(rgba.Rect)
		d.draw(rgba, v)
		d.draw(g, v)
		want := toGrey(rgba)
		for i := range want.Pix {
			if diff := int(want.Pix[i]) - int(g.Pix[i]); diff > 1 || diff < -1 {
				t.Fatalf("%s: pixel %d is %d in the grey frame, %d in the screenshot", screen, i, g.Pix[i], want.Pix[i])
			}
		}
	}
}

// A recording stopped before ffmpeg has finished starting still stops:
// ffmpeg opens its inputs one after the other, so a writer can be held up
// on one pipe while ffmpeg waits on the other.
func TestShortRecordingStops(t *testing.T) {
	needTools(t, "ffmpeg")
	ctx := context.Background()
	for _, hold := range []time.Duration{0, 300 * time.Millisecond, time.Second} {
		d := New(capture.DeviceConfig{ID: "device1"}, nil, "ffmpeg")
		rec, err := d.StartVideo(ctx, t.TempDir(), capture.DefaultVideoOptions)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(hold)
		stopped := make(chan error, 1)
		go func() { stopped <- rec.Stop(ctx) }()
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatalf("after %s: %v", hold, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("a recording of %s did not stop", hold)
		}
	}
}
