// Package capture is the device layer: the devices a run can use (the
// virtual device, Android over ADB, HDMI capture with an IR remote, the
// host's display), their screenshots and video, and the locks that give a
// run its device exclusively.
package capture

import (
	"context"
	"errors"
	"image"
	"time"

	"github.com/vpt-dev/vpt/internal/ui"
)

// FieldError is a wrong field of one device's configuration, for the
// caller to say where it was set (vpt.yaml's line, a variable). Field is
// vpt.yaml's name of it: video, ir.keymap. It wraps ErrBadDeviceConfig
// (or what Err wraps).
type FieldError struct {
	Device, Field string
	Err           error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Field marks err as the fault of a device's field (nil stays nil).
func Field(device, field string, err error) error {
	if err == nil {
		return nil
	}
	return &FieldError{Device: device, Field: field, Err: err}
}

// Errors of the device layer.
var (
	// ErrUnknownDevice: no device has that id (a usage error).
	ErrUnknownDevice = errors.New("unknown device")
	// ErrBadDeviceConfig: a device entry of the configuration is wrong.
	ErrBadDeviceConfig = errors.New("bad device configuration")
	// ErrNotSupported: the device lacks the capability (no keys on a
	// display, no video on a device without a picture).
	ErrNotSupported = errors.New("not supported by this device")
	// ErrUnreachable: the device does not answer.
	ErrUnreachable = errors.New("device unreachable")
	// ErrToolMissing: a program the device needs (ffmpeg, adb, ir-ctl) is
	// not installed.
	ErrToolMissing = errors.New("required program not found")
	// ErrDeviceBusy: another run holds the device and the caller asked not
	// to wait.
	ErrDeviceBusy = errors.New("device busy")
	// ErrUnknownKey: a key name the device's remote does not have.
	ErrUnknownKey = errors.New("unknown key")
)

// Capabilities a device may have.
const (
	CapScreenshot = "screenshot"
	CapVideo      = "video"
	CapKeys       = "keys"  // remote key presses
	CapTap        = "tap"   // touch or pointer
	CapText       = "text"  // typing text
	CapSwipe      = "swipe" // touch swipe
	CapAudio      = "audio"
	// CapScreen: the device knows which userinterface node it shows (the
	// virtual device), so navigation can verify without image references.
	CapScreen = "screen"
)

// Info identifies a device.
type Info struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Model         string   `json:"model"`
	Driver        string   `json:"driver"` // virtual, adb, hdmi, host
	Target        string   `json:"target"` // serial, ip:port, /dev/videoN, :99
	UserInterface string   `json:"userinterface,omitempty"`
	Capabilities  []string `json:"capabilities"`
}

// Seeded is a device whose misbehaviour follows a random seed (the
// virtual device's key drops). A run records the seed (0: none), so that
// the device's seed: setting can replay it.
type Seeded interface {
	Seed() int64
}

// Has reports whether the device has a capability.
func (i Info) Has(c string) bool {
	for _, x := range i.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Device is one device a run can use. Implementations are safe for
// concurrent use by one run (the script API serves calls concurrently).
type Device interface {
	Info() Info
	// Check tells whether the device answers right now (ErrUnreachable,
	// ErrToolMissing).
	Check(ctx context.Context) error
	// Screenshot returns the picture on the device now.
	Screenshot(ctx context.Context) (image.Image, error)
	// Press sends one remote key by name (HOME, BACK, UP, OK, VOLUME_UP, 0…9).
	Press(ctx context.Context, key string) error
	// Tap touches or clicks a point of the screen.
	Tap(ctx context.Context, x, y int) error
	// StartVideo starts recording into dir as HLS segments (index.m3u8,
	// seg_NNNNN.ts). The recording runs until Recorder.Stop: ctx bounds
	// only the start (no driver ends a recording with it, and the run
	// stops its recording itself, after its own context has ended).
	StartVideo(ctx context.Context, dir string, opts VideoOptions) (Recorder, error)
	// Close releases the device's resources (not its lock).
	Close() error
}

// Screens is implemented by devices that know which userinterface node
// they show (the virtual device).
type Screens interface {
	CurrentScreen() string
}

// Freezer is implemented by devices whose screen changes only through vpt
// (the virtual device): Freeze records what the screen shows now, cheaply,
// and the returned function draws that picture later, off the caller's
// path. size is the picture's size.
type Freezer interface {
	Freeze() (draw func() image.Image, size image.Point)
}

// Typer is implemented by devices that type text and swipe (ADB).
type Typer interface {
	Text(ctx context.Context, s string) error
	Swipe(ctx context.Context, x1, y1, x2, y2 int, d time.Duration) error
}

// Recorder is a recording in progress.
type Recorder interface {
	// Stop ends the recording and leaves complete segments in its folder.
	// A recording that had stopped by itself before (the device went
	// away) gives an error that wraps ErrUnreachable; its segments stay.
	Stop(ctx context.Context) error
}

// VideoOptions tune a recording.
type VideoOptions struct {
	FPS int
	// SegmentSeconds is the HLS segment length.
	SegmentSeconds int
}

// DefaultVideoOptions are used when a device sets nothing: 10 fps, 2-second
// segments.
var DefaultVideoOptions = VideoOptions{FPS: 10, SegmentSeconds: 2}

// UILoader loads a userinterface by name ("" = the built-in one).
type UILoader func(name string) (*ui.UI, error)
