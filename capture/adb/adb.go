// Package adb drives Android phones and TVs over ADB: key events, taps,
// swipes and text through `adb shell input`, screenshots through
// `adb exec-out screencap`, video through `screenrecord` piped into ffmpeg.
package adb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

func init() {
	capture.RegisterDriver(capture.DriverADB, func(cfg capture.DeviceConfig, env capture.Environment) (capture.Device, error) {
		return New(cfg, env.Tool("adb"), env.Tool("ffmpeg")), nil
	})
}

// ScreenrecordLimit is how long one screenrecord runs before vpt starts
// the next: screenrecord stops by itself after 180 seconds (its
// --time-limit maximum), so a longer run is recorded in pieces.
const ScreenrecordLimit = 170 * time.Second

// Client runs adb commands for one device.
type Client struct {
	Path   string // adb program
	Serial string // serial or ip:port
}

// Args is the argv of an adb command for the device.
func (c Client) Args(args ...string) []string {
	return append([]string{c.Path, "-s", c.Serial}, args...)
}

// KeyEventArgs presses a key.
func (c Client) KeyEventArgs(keycode string) []string {
	return c.Args("shell", "input", "keyevent", keycode)
}

// TapArgs taps a point.
func (c Client) TapArgs(x, y int) []string {
	return c.Args("shell", "input", "tap", strconv.Itoa(x), strconv.Itoa(y))
}

// SwipeArgs swipes between two points.
func (c Client) SwipeArgs(x1, y1, x2, y2 int, d time.Duration) []string {
	return c.Args("shell", "input", "swipe", strconv.Itoa(x1), strconv.Itoa(y1), strconv.Itoa(x2), strconv.Itoa(y2),
		strconv.Itoa(int(d.Milliseconds())))
}

// TextArgs types text. `input text` splits on spaces and the device shell
// interprets the rest, so spaces become %s and shell characters are escaped.
func (c Client) TextArgs(s string) []string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ':
			b.WriteString("%s")
		case strings.ContainsRune(`\'"()<>|;&*~$#!?[]{}`+"`", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return c.Args("shell", "input", "text", b.String())
}

// ScreencapArgs takes a screenshot: raw pixels, or a PNG encoded on the device.
func (c Client) ScreencapArgs(pngOnDevice bool) []string {
	if pngOnDevice {
		return c.Args("exec-out", "screencap", "-p")
	}
	return c.Args("exec-out", "screencap")
}

// ScreenrecordArgs streams raw H.264 for at most limit.
func (c Client) ScreenrecordArgs(limit time.Duration) []string {
	secs := int(limit.Seconds())
	if secs < 1 {
		secs = 1
	}
	return c.Args("exec-out", "screenrecord", "--output-format=h264", "--time-limit", strconv.Itoa(secs), "-")
}

// run runs an adb command and returns its stdout.
func (c Client) run(ctx context.Context, argv []string) ([]byte, error) {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%w: adb (%s): install it with apt-get install adb, or set tools.adb in vpt.yaml", capture.ErrToolMissing, argv[0])
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" && len(out) < 4096 {
			msg = strings.TrimSpace(string(out))
		}
		if strings.Contains(msg, "not found") || strings.Contains(msg, "offline") || strings.Contains(msg, "unauthorized") ||
			strings.Contains(msg, "no devices") {
			return nil, fmt.Errorf("%w: %s: %s", capture.ErrUnreachable, c.Serial, msg)
		}
		return nil, fmt.Errorf("%s: %v: %s", strings.Join(argv[1:], " "), err, msg)
	}
	return out, nil
}

// Device is an Android device over ADB.
type Device struct {
	cfg    capture.DeviceConfig
	client Client
	ffmpeg string

	mu        sync.Mutex
	connected bool
	// shotMode: "" until measured, then "raw" or "png": whichever of the
	// two screenshot paths was faster on this device.
	shotMode string
}

// New builds an ADB device.
func New(cfg capture.DeviceConfig, adbPath, ffmpeg string) *Device {
	return &Device{cfg: cfg, client: Client{Path: adbPath, Serial: cfg.ADB}, ffmpeg: ffmpeg}
}

// Client returns the device's adb client (the HDMI driver sends Android
// TV keys with it).
func (d *Device) Client() Client { return d.client }

// Info implements capture.Device.
func (d *Device) Info() capture.Info {
	return capture.Info{ID: d.cfg.ID, Name: d.cfg.Name, Model: d.cfg.Model, Driver: capture.DriverADB, Target: d.cfg.ADB,
		UserInterface: d.cfg.UserInterface,
		Capabilities:  []string{capture.CapScreenshot, capture.CapVideo, capture.CapKeys, capture.CapTap, capture.CapText, capture.CapSwipe}}
}

// Check implements capture.Device: network devices are connected first.
func (d *Device) Check(ctx context.Context) error {
	if err := d.connect(ctx); err != nil {
		return err
	}
	out, err := d.client.run(ctx, d.client.Args("get-state"))
	if err != nil {
		return err
	}
	if state := strings.TrimSpace(string(out)); state != "device" {
		return fmt.Errorf("%w: %s is %s", capture.ErrUnreachable, d.cfg.ADB, state)
	}
	return nil
}

// connect runs `adb connect` for an ip:port target that adb does not list.
func (d *Device) connect(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.connected || !strings.Contains(d.cfg.ADB, ":") {
		return nil
	}
	out, err := d.client.run(ctx, []string{d.client.Path, "devices"})
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == d.cfg.ADB && f[1] == "device" {
			d.connected = true
			return nil
		}
	}
	out, err = d.client.run(ctx, []string{d.client.Path, "connect", d.cfg.ADB})
	if err != nil {
		if errors.Is(err, capture.ErrToolMissing) {
			return err
		}
		return fmt.Errorf("%w: %w", capture.ErrUnreachable, err)
	}
	if s := string(out); !strings.Contains(s, "connected to") {
		return fmt.Errorf("%w: adb connect %s: %s", capture.ErrUnreachable, d.cfg.ADB, strings.TrimSpace(s))
	}
	d.connected = true
	return nil
}

// Press implements capture.Device.
func (d *Device) Press(ctx context.Context, key string) error {
	code, ok := capture.AndroidKeycode(key)
	if !ok {
		return &capture.UnknownKeyError{Key: key, Device: "Android", Known: capture.StandardKeys}
	}
	_, err := d.client.run(ctx, d.client.KeyEventArgs(code))
	return err
}

// Tap implements capture.Device.
func (d *Device) Tap(ctx context.Context, x, y int) error {
	_, err := d.client.run(ctx, d.client.TapArgs(x, y))
	return err
}

// Swipe implements capture.Typer.
func (d *Device) Swipe(ctx context.Context, x1, y1, x2, y2 int, dur time.Duration) error {
	_, err := d.client.run(ctx, d.client.SwipeArgs(x1, y1, x2, y2, dur))
	return err
}

// Text implements capture.Typer.
func (d *Device) Text(ctx context.Context, s string) error {
	_, err := d.client.run(ctx, d.client.TextArgs(s))
	return err
}

// Screenshot implements capture.Device. The first screenshot tries both
// ways (raw pixels converted here, PNG encoded on the device) and keeps
// the faster for the rest of the run.
func (d *Device) Screenshot(ctx context.Context) (image.Image, error) {
	d.mu.Lock()
	mode := d.shotMode
	d.mu.Unlock()
	if mode != "" {
		return d.screenshot(ctx, mode)
	}
	t0 := time.Now()
	rawImg, rawErr := d.screenshot(ctx, "raw")
	rawTime := time.Since(t0)
	t1 := time.Now()
	pngImg, pngErr := d.screenshot(ctx, "png")
	pngTime := time.Since(t1)
	switch {
	case rawErr != nil && pngErr != nil:
		return nil, rawErr
	case pngErr != nil || rawErr == nil && rawTime <= pngTime:
		mode = "raw"
	default:
		mode = "png"
	}
	d.mu.Lock()
	d.shotMode = mode
	d.mu.Unlock()
	if mode == "raw" {
		return rawImg, nil
	}
	return pngImg, nil
}

// ScreenshotMode is the way screenshots are taken once measured.
func (d *Device) ScreenshotMode() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.shotMode
}

func (d *Device) screenshot(ctx context.Context, mode string) (image.Image, error) {
	out, err := d.client.run(ctx, d.client.ScreencapArgs(mode == "png"))
	if err != nil {
		return nil, err
	}
	if mode == "png" {
		img, err := png.Decode(bytes.NewReader(out))
		if err != nil {
			return nil, fmt.Errorf("screencap -p: %w", err)
		}
		return img, nil
	}
	return DecodeRaw(out)
}

// DecodeRaw decodes `screencap` output: a little-endian header of width,
// height, pixel format (and, since Android 9, a colour space), then RGBA
// pixels.
func DecodeRaw(b []byte) (image.Image, error) {
	if len(b) < 12 {
		return nil, errors.New("screencap: short output")
	}
	w := int(binary.LittleEndian.Uint32(b[0:]))
	h := int(binary.LittleEndian.Uint32(b[4:]))
	format := binary.LittleEndian.Uint32(b[8:])
	if w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return nil, fmt.Errorf("screencap: bad size %dx%d", w, h)
	}
	if format != 1 && format != 2 { // RGBA_8888, RGBX_8888
		return nil, fmt.Errorf("screencap: pixel format %d is not RGBA", format)
	}
	n := w * h * 4
	header := len(b) - n
	if header != 12 && header != 16 {
		return nil, fmt.Errorf("screencap: %d bytes for %dx%d", len(b), w, h)
	}
	img := &image.RGBA{Pix: b[header:], Stride: w * 4, Rect: image.Rect(0, 0, w, h)}
	if format == 2 {
		for i := 3; i < len(img.Pix); i += 4 {
			img.Pix[i] = 0xff
		}
	}
	return img, nil
}

// StartVideo implements capture.Device: screenrecord's H.264 goes into one
// ffmpeg, which cuts HLS segments; screenrecord restarts before its limit.
func (d *Device) StartVideo(ctx context.Context, dir string, o capture.VideoOptions) (capture.Recorder, error) {
	if err := d.connect(ctx); err != nil {
		return nil, err
	}
	ff, err := capture.StartFFmpeg(d.ffmpeg, capture.H264PipeArgs(dir, o), true)
	if err != nil {
		return nil, err
	}
	limit := d.cfg.ScreenrecordLimit
	if limit <= 0 {
		limit = ScreenrecordLimit
	}
	r := &recorder{d: d, ff: ff, limit: limit, stop: make(chan struct{}), done: make(chan struct{}), started: make(chan struct{})}
	go r.loop()
	// The video's clock starts with screenrecord's first bytes, which take
	// a moment to come (longer on a busy host); waiting for them before the
	// script starts puts its first actions in the video. A device that
	// sends nothing for a while is recorded from whenever it does.
	select {
	case <-r.started:
	case <-r.done:
	case <-time.After(firstPictureWait):
	}
	return r, nil
}

// firstPictureWait bounds how long StartVideo waits for screenrecord.
const firstPictureWait = 5 * time.Second

// firstWrite passes screenrecord's stream to ffmpeg and closes the
// recorder's started on its first bytes.
type firstWrite struct{ r *recorder }

func (f firstWrite) Write(b []byte) (int, error) {
	if len(b) > 0 {
		f.r.startedOnce.Do(func() { close(f.r.started) })
	}
	return f.r.ff.Stdin().Write(b)
}

// Close implements capture.Device.
func (d *Device) Close() error { return nil }

type recorder struct {
	d     *Device
	ff    *capture.FFmpeg
	limit time.Duration
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	cur   *exec.Cmd
	once  sync.Once
	err   error
	// started is closed when the first bytes reach ffmpeg.
	started     chan struct{}
	startedOnce sync.Once
	// Pieces counts the screenrecord runs.
	pieces int
}

func (r *recorder) loop() {
	defer close(r.done)
	failures := 0
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		argv := r.d.client.ScreenrecordArgs(r.limit)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout = firstWrite{r}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		r.mu.Lock()
		err := cmd.Start()
		if err == nil {
			r.cur = cmd
			r.pieces++
		}
		r.mu.Unlock()
		start := time.Now()
		if err == nil {
			err = cmd.Wait()
		}
		r.mu.Lock()
		r.cur = nil
		r.mu.Unlock()
		select {
		case <-r.stop:
			return
		default:
		}
		if err != nil && time.Since(start) < time.Second {
			failures++
			if failures >= 3 {
				r.err = fmt.Errorf("screenrecord keeps failing: %v: %s", err, strings.TrimSpace(stderr.String()))
				return
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		failures = 0
	}
}

// Stop implements capture.Recorder.
func (r *recorder) Stop(ctx context.Context) error {
	r.once.Do(func() {
		close(r.stop)
		r.mu.Lock()
		if r.cur != nil && r.cur.Process != nil {
			_ = r.cur.Process.Kill()
		}
		r.mu.Unlock()
		<-r.done
		if err := r.ff.Stop(10 * time.Second); err != nil && r.err == nil {
			r.err = err
		}
	})
	return r.err
}
