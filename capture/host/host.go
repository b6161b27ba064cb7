// Package host records the display of the machine vpt runs on (an X11
// display: a desktop, a kiosk, a browser under Xvfb) with ffmpeg's x11grab,
// and sends keys and clicks with xdotool where it is installed.
package host

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/lazyre"
)

func init() {
	capture.RegisterDriver(capture.DriverHost, func(cfg capture.DeviceConfig, env capture.Environment) (capture.Device, error) {
		return New(cfg, env), nil
	})
}

// Device is an X11 display.
type Device struct {
	cfg     capture.DeviceConfig
	pipe    *capture.Pipeline
	xdotool string
}

// New builds a display device.
func New(cfg capture.DeviceConfig, env capture.Environment) *Device {
	fps := cfg.FPS
	if fps <= 0 {
		fps = 10
	}
	size := cfg.Resolution
	if size == "" {
		size = displaySize(cfg.Display)
	}
	src := capture.CaptureSource{Kind: "x11grab", Input: cfg.Display, Size: size, FPS: fps}
	return &Device{cfg: cfg, pipe: &capture.Pipeline{Source: src, FFmpeg: env.Tool("ffmpeg")}, xdotool: env.Tool("xdotool")}
}

var dimensionsRe = lazyre.New(`dimensions:\s+(\d+x\d+) pixels`)

// displaySize asks xdpyinfo for the size of the display (1280x720 when it
// cannot tell).
func displaySize(display string) string {
	out, err := exec.Command("xdpyinfo", "-display", display).Output()
	if err == nil {
		if m := dimensionsRe().FindSubmatch(out); m != nil {
			return string(m[1])
		}
	}
	return "1280x720"
}

// Info implements capture.Device.
func (d *Device) Info() capture.Info {
	caps := []string{capture.CapScreenshot, capture.CapVideo}
	if _, err := exec.LookPath(d.xdotool); err == nil {
		caps = append(caps, capture.CapKeys, capture.CapTap, capture.CapText, capture.CapSwipe)
	}
	return capture.Info{ID: d.cfg.ID, Name: d.cfg.Name, Model: d.cfg.Model, Driver: capture.DriverHost,
		Target: d.cfg.Display, UserInterface: d.cfg.UserInterface, Capabilities: caps}
}

// Check implements capture.Device: ffmpeg is there and the display answers.
func (d *Device) Check(ctx context.Context) error {
	if _, err := exec.LookPath(d.pipe.FFmpeg); err != nil {
		return fmt.Errorf("%w: ffmpeg records the display (apt-get install ffmpeg)", capture.ErrToolMissing)
	}
	if _, err := exec.LookPath("xdpyinfo"); err == nil {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "xdpyinfo", "-display", d.cfg.Display)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%w: display %s: %s", capture.ErrUnreachable, d.cfg.Display, strings.TrimSpace(stderr.String()))
		}
	}
	return nil
}

// Screenshot implements capture.Device.
func (d *Device) Screenshot(ctx context.Context) (image.Image, error) { return d.pipe.Latest(ctx) }

// xKeys maps vpt's key names to X keysyms.
var xKeys = map[string]string{
	"UP": "Up", "DOWN": "Down", "LEFT": "Left", "RIGHT": "Right", "OK": "Return", "ENTER": "Return",
	"BACK": "Escape", "HOME": "Home", "MENU": "Menu", "VOLUME_UP": "XF86AudioRaiseVolume",
	"VOLUME_DOWN": "XF86AudioLowerVolume", "MUTE": "XF86AudioMute", "PLAY_PAUSE": "XF86AudioPlay",
	"PLAY": "XF86AudioPlay", "PAUSE": "XF86AudioPause", "STOP": "XF86AudioStop", "SEARCH": "XF86Search",
}

// KeyArgs is the xdotool command for a key: a vpt key name, or an X key
// combination such as ctrl+l.
func KeyArgs(xdotool, key string) []string {
	sym, ok := xKeys[capture.NormalizeKey(key)]
	if !ok {
		sym = key
	}
	return []string{xdotool, "key", "--clearmodifiers", sym}
}

// xdo runs xdotool and returns its output.
func (d *Device) xdo(ctx context.Context, argv []string) (string, error) {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return "", fmt.Errorf("%w: xdotool sends keys to the display (apt-get install xdotool)", capture.ErrToolMissing)
	}
	// An X server that resets when its last client leaves (Xvfb without
	// -noreset) refuses connections for a moment afterwards; xdotool then
	// fails before doing anything, so trying again cannot repeat an action.
	var err error
	var out []byte
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(cmd.Environ(), "DISPLAY="+d.cfg.Display)
		out, err = cmd.CombinedOutput()
		if err == nil {
			return string(out), nil
		}
		if !strings.Contains(string(out), "Can't open display") {
			break
		}
	}
	return "", fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
}

// Press implements capture.Device. xdotool skips a key name X does not
// know, saying so but ending well: that is an unknown key.
func (d *Device) Press(ctx context.Context, key string) error {
	out, err := d.xdo(ctx, KeyArgs(d.xdotool, key))
	if err == nil && strings.Contains(out, "No such key name") {
		known := make([]string, 0, len(xKeys))
		for k := range xKeys {
			known = append(known, k)
		}
		return &capture.UnknownKeyError{Key: key, Device: "the host display (an X key name such as ctrl+l also does)", Known: known}
	}
	return err
}

// Tap implements capture.Device: a left click.
func (d *Device) Tap(ctx context.Context, x, y int) error {
	_, err := d.xdo(ctx, []string{d.xdotool, "mousemove", strconv.Itoa(x), strconv.Itoa(y), "click", "1"})
	return err
}

// Text types text.
func (d *Device) Text(ctx context.Context, s string) error {
	_, err := d.xdo(ctx, []string{d.xdotool, "type", "--delay", "20", s})
	return err
}

// Swipe drags the pointer with the left button down.
func (d *Device) Swipe(ctx context.Context, x1, y1, x2, y2 int, dur time.Duration) error {
	_, err := d.xdo(ctx, []string{d.xdotool, "mousemove", strconv.Itoa(x1), strconv.Itoa(y1), "mousedown", "1",
		"mousemove", strconv.Itoa(x2), strconv.Itoa(y2), "mouseup", "1"})
	return err
}

// StartVideo implements capture.Device.
func (d *Device) StartVideo(ctx context.Context, dir string, o capture.VideoOptions) (capture.Recorder, error) {
	return d.pipe.Record(dir, o)
}

// Frames implements capture.FrameSource: the capture pipeline's grey frames.
func (d *Device) Frames(ctx context.Context, o capture.FrameOptions) (capture.FrameReader, error) {
	return d.pipe.Frames(ctx, o)
}

// Close implements capture.Device.
func (d *Device) Close() error { return d.pipe.Close() }
