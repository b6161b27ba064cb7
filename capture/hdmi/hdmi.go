// Package hdmi drives devices watched through an HDMI capture card (set-top
// boxes, Android and Fire TV sticks, Apple TV): pictures and video from the
// card through ffmpeg, keys through an IR blaster or, for Android TV, ADB.
package hdmi

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/capture/adb"
	"github.com/vpt-dev/vpt/capture/ir"
)

func init() {
	capture.RegisterDriver(capture.DriverHDMI, func(cfg capture.DeviceConfig, env capture.Environment) (capture.Device, error) {
		return New(cfg, env)
	})
	capture.RegisterConfigCheck(capture.DriverHDMI, checkConfig)
}

// Default capture format of the cards vpt targets: MJPEG 1280x720.
const (
	DefaultSize = "1280x720"
	DefaultFPS  = 10
)

// Device is a device behind a capture card.
type Device struct {
	cfg  capture.DeviceConfig
	pipe *capture.Pipeline
	ir   *ir.Sender
	adb  *adb.Device
}

// Source is the capture source a device configuration names: a v4l2
// device, or "lavfi:SPEC" (ffmpeg's test sources, standing in for a card).
func Source(cfg capture.DeviceConfig) capture.CaptureSource {
	size := cfg.Resolution
	if size == "" {
		size = DefaultSize
	}
	fps := cfg.FPS
	if fps <= 0 {
		fps = DefaultFPS
	}
	if spec, ok := strings.CutPrefix(cfg.Video, "lavfi:"); ok {
		return capture.CaptureSource{Kind: "lavfi", Input: spec, Size: size, FPS: fps}
	}
	return capture.CaptureSource{Kind: "v4l2", Input: cfg.Video, Size: size, FPS: fps, Audio: cfg.Audio}
}

// New builds a capture-card device; its keys go by IR when ir: is set,
// else by ADB when adb: is set.
func New(cfg capture.DeviceConfig, env capture.Environment) (*Device, error) {
	d := &Device{cfg: cfg, pipe: &capture.Pipeline{Source: Source(cfg), FFmpeg: env.Tool("ffmpeg")}}
	switch {
	case cfg.IR.Device != "" || cfg.IR.Keymap != "":
		km, tool, err := irConfig(cfg, env)
		if err != nil {
			return nil, err
		}
		d.ir = &ir.Sender{Keymap: km, Device: cfg.IR.Device, Tool: tool, Path: env.Tool(tool), Remote: cfg.IR.Remote}
	case cfg.ADB != "":
		d.adb = adb.New(cfg, env.Tool("adb"), env.Tool("ffmpeg"))
	}
	return d, nil
}

// irConfig reads the ir: section: its keymap and the tool that sends.
func irConfig(cfg capture.DeviceConfig, env capture.Environment) (*ir.Keymap, string, error) {
	km, err := ir.LoadKeymap(cfg.IR.Keymap, env.KeymapDirs)
	if err != nil {
		return nil, "", capture.Field(cfg.ID, "ir.keymap", fmt.Errorf("device %s: %w", cfg.ID, err))
	}
	tool := cfg.IR.Tool
	if tool == "" {
		tool = "ir-ctl"
	}
	if tool != "ir-ctl" && tool != "irsend" {
		return nil, "", capture.Field(cfg.ID, "ir.tool", fmt.Errorf("%w: device %s: ir.tool %q: use ir-ctl or irsend", capture.ErrBadDeviceConfig, cfg.ID, tool))
	}
	return km, tool, nil
}

// checkConfig finds the keymap and the tool of an ir: section when the
// configuration is read: a keymap that does not exist is a mistake in
// vpt.yaml, not a device that does not answer.
func checkConfig(cfg capture.DeviceConfig, env capture.Environment) error {
	if cfg.IR.Device == "" && cfg.IR.Keymap == "" {
		return nil
	}
	_, _, err := irConfig(cfg, env)
	return err
}

// Info implements capture.Device.
func (d *Device) Info() capture.Info {
	caps := []string{capture.CapScreenshot, capture.CapVideo}
	if d.ir != nil || d.adb != nil {
		caps = append(caps, capture.CapKeys)
	}
	if d.adb != nil {
		caps = append(caps, capture.CapTap, capture.CapText)
	}
	if d.cfg.Audio != "" {
		caps = append(caps, capture.CapAudio)
	}
	return capture.Info{ID: d.cfg.ID, Name: d.cfg.Name, Model: d.cfg.Model, Driver: capture.DriverHDMI,
		Target: d.cfg.Video, UserInterface: d.cfg.UserInterface, Capabilities: caps}
}

// Check implements capture.Device: ffmpeg is installed, the card exists,
// and so do the IR blaster or the ADB device.
func (d *Device) Check(ctx context.Context) error {
	if _, err := exec.LookPath(d.pipe.FFmpeg); err != nil {
		return fmt.Errorf("%w: ffmpeg reads the capture card (apt-get install ffmpeg)", capture.ErrToolMissing)
	}
	if d.pipe.Source.Kind == "v4l2" {
		st, err := os.Stat(d.cfg.Video)
		if err != nil {
			return fmt.Errorf("%w: capture device %s: %v (is the card plugged in? ls /dev/video*)", capture.ErrUnreachable, d.cfg.Video, err)
		}
		if st.Mode()&os.ModeCharDevice == 0 {
			return fmt.Errorf("%w: %s is not a video device", capture.ErrUnreachable, d.cfg.Video)
		}
	}
	if d.ir != nil {
		if d.ir.Tool == "ir-ctl" {
			dev := d.cfg.IR.Device
			if dev == "" {
				dev = "/dev/lirc0"
			}
			if _, err := os.Stat(dev); err != nil {
				return fmt.Errorf("%w: IR blaster %s: %v", capture.ErrUnreachable, dev, err)
			}
		}
		if _, err := exec.LookPath(d.ir.Path); err != nil {
			return fmt.Errorf("%w: %s sends IR keys (apt-get install %s)", capture.ErrToolMissing, d.ir.Path,
				map[string]string{"ir-ctl": "v4l-utils", "irsend": "lirc"}[d.ir.Tool])
		}
	}
	if d.adb != nil {
		return d.adb.Check(ctx)
	}
	return nil
}

// Screenshot implements capture.Device: the latest frame of the pipeline.
func (d *Device) Screenshot(ctx context.Context) (image.Image, error) { return d.pipe.Latest(ctx) }

// Press implements capture.Device.
func (d *Device) Press(ctx context.Context, key string) error {
	switch {
	case d.ir != nil:
		return d.ir.Press(ctx, key)
	case d.adb != nil:
		return d.adb.Press(ctx, key)
	}
	return fmt.Errorf("press: %w (give the device an ir: blaster or an adb: target)", capture.ErrNotSupported)
}

// Tap implements capture.Device.
func (d *Device) Tap(ctx context.Context, x, y int) error {
	if d.adb != nil {
		return d.adb.Tap(ctx, x, y)
	}
	return fmt.Errorf("tap: %w", capture.ErrNotSupported)
}

// Text types on Android TV devices.
func (d *Device) Text(ctx context.Context, s string) error {
	if d.adb != nil {
		return d.adb.Text(ctx, s)
	}
	return fmt.Errorf("text: %w", capture.ErrNotSupported)
}

// Swipe is not available through a capture card.
func (d *Device) Swipe(ctx context.Context, x1, y1, x2, y2 int, dur time.Duration) error {
	return fmt.Errorf("swipe: %w", capture.ErrNotSupported)
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
