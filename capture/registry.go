package capture

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/internal/ui"
)

// DeviceConfig is one entry of the `devices:` list of vpt.yaml (or one
// upstream DEVICE{i}_* group of environment variables).
type DeviceConfig struct {
	ID            string `yaml:"id" json:"id"`
	Name          string `yaml:"name" json:"name"`
	Model         string `yaml:"model" json:"model"`
	UserInterface string `yaml:"userinterface" json:"userinterface,omitempty"`
	// Tags are the lab's own names for what sets the device apart ("4k",
	// "living-room", "hdr"): a distributed campaign entry can ask for any
	// device with a tag.
	Tags []string `yaml:"tags" json:"tags,omitempty"`
	// ADB target: a serial or ip:port.
	ADB string `yaml:"adb" json:"adb,omitempty"`
	// Video source of an HDMI capture card: /dev/videoN. "lavfi:SPEC" uses
	// ffmpeg's test sources instead (for trying a pipeline without a card).
	Video      string `yaml:"video" json:"video,omitempty"`
	Audio      string `yaml:"audio" json:"audio,omitempty"`
	FPS        int    `yaml:"fps" json:"fps,omitempty"`
	Resolution string `yaml:"resolution" json:"resolution,omitempty"`
	// Display of the host to record: ":0", ":99".
	Display string   `yaml:"display" json:"display,omitempty"`
	IR      IRConfig `yaml:"ir" json:"ir,omitempty"`
	// Virtual device: latency of each key press, fraction of key presses
	// it drops (0..1), seed of the drops.
	KeyLatency time.Duration `yaml:"key_latency" json:"key_latency,omitempty"`
	DropRate   float64       `yaml:"drop_rate" json:"drop_rate,omitempty"`
	Seed       int64         `yaml:"seed" json:"seed,omitempty"`
	// ADB: restart screenrecord this often (it stops by itself at 180 s).
	ScreenrecordLimit time.Duration `yaml:"screenrecord_limit" json:"screenrecord_limit,omitempty"`
}

// IRConfig is an IR blaster.
type IRConfig struct {
	Device string `yaml:"device" json:"device,omitempty"` // /dev/lirc0
	Keymap string `yaml:"keymap" json:"keymap,omitempty"` // remote type: samsung, eos, apple_tv…
	// Tool: ir-ctl (default) or irsend (LIRC daemon).
	Tool string `yaml:"tool" json:"tool,omitempty"`
	// Remote is the LIRC remote name for irsend (default: the keymap name).
	Remote string `yaml:"remote" json:"remote,omitempty"`
}

// Driver names.
const (
	DriverVirtual = "virtual"
	DriverADB     = "adb"
	DriverHDMI    = "hdmi"
	DriverHost    = "host"
)

// DefaultDevice is the device of a machine with no configuration.
var DefaultDevice = DeviceConfig{ID: "device1", Name: "Virtual STB", Model: "virtual"}

// Driver picks the driver that serves a device: the model says virtual or
// host; a video source means an HDMI capture card (keys by IR, or by ADB
// for Android TV sticks); an ADB target alone means Android over ADB.
func (c DeviceConfig) Driver() (string, error) {
	switch {
	case c.Model == "virtual":
		return DriverVirtual, nil
	case c.Model == "host" || c.Model == "host_vnc" || c.Display != "" && c.Video == "":
		if c.Display == "" {
			return "", fmt.Errorf("%w: device %s (model %s) needs display: (for example \":0\")", ErrBadDeviceConfig, c.ID, c.Model)
		}
		return DriverHost, nil
	case c.Video != "":
		return DriverHDMI, nil
	case c.ADB != "":
		return DriverADB, nil
	}
	switch c.Model {
	case "android_mobile", "android_tv":
		return "", fmt.Errorf("%w: device %s (model %s) needs adb: (a serial or ip:port) or video: (an HDMI capture device)", ErrBadDeviceConfig, c.ID, c.Model)
	case "":
		return "", fmt.Errorf("%w: device %s has no model (use virtual, android_mobile, android_tv, fire_tv, stb, apple_tv, host)", ErrBadDeviceConfig, c.ID)
	}
	return "", fmt.Errorf("%w: device %s (model %s) needs video: (an HDMI capture device such as /dev/video0)", ErrBadDeviceConfig, c.ID, c.Model)
}

// Tools names the external programs the device needs, as vpt doctor
// checks them: ffmpeg and ffprobe to record its video (video on) or to
// capture its screen (HDMI, host display), adb for Android, ir-ctl or
// irsend for an IR remote, xdotool for the host display's keys.
func (c DeviceConfig) Tools(video bool) []string {
	driver, _ := c.Driver()
	var out []string
	if video || driver == DriverHDMI || driver == DriverHost {
		out = append(out, "ffmpeg", "ffprobe")
	}
	switch {
	case driver == DriverADB:
		out = append(out, "adb")
	case driver == DriverHDMI && (c.IR.Keymap != "" || c.IR.Device != ""):
		if c.IR.Tool == "irsend" {
			out = append(out, "irsend")
		} else {
			out = append(out, "ir-ctl")
		}
	case driver == DriverHDMI && c.ADB != "":
		out = append(out, "adb")
	case driver == DriverHost:
		out = append(out, "xdotool")
	}
	return out
}

// Environment gives drivers what they need beyond their own config.
type Environment struct {
	// UserInterface loads a userinterface by name for the virtual device's
	// screens ("" = the built-in one).
	UserInterfaces UILoader
	// FFmpeg, ADB, IRCtl, IRSend, XDoTool are program names or paths.
	FFmpeg, ADB, IRCtl, IRSend, XDoTool string
	// KeymapDirs are extra folders of IR keymap files.
	KeymapDirs []string
	// LockDir holds the device locks ("" for DefaultLockDir).
	LockDir string
}

// Tool returns the configured program name, or the default.
func (e Environment) Tool(name string) string {
	v := map[string]string{"ffmpeg": e.FFmpeg, "adb": e.ADB, "ir-ctl": e.IRCtl, "irsend": e.IRSend, "xdotool": e.XDoTool}[name]
	if v == "" {
		return name
	}
	return v
}

// Opener builds a device of one driver.
type Opener func(cfg DeviceConfig, env Environment) (Device, error)

var (
	driversMu sync.Mutex
	drivers   = map[string]Opener{}
)

// RegisterDriver makes a driver available; driver packages call it from init.
func RegisterDriver(name string, open Opener) {
	driversMu.Lock()
	defer driversMu.Unlock()
	drivers[name] = open
}

// Lock takes a device's lock in the registry's lock folder (AcquireLock).
func (r *Registry) Lock(ctx context.Context, c DeviceConfig, wait bool, owner string, onWait func(holder string)) (*Lock, error) {
	return AcquireLock(ctx, r.env.LockDir, c, wait, owner, onWait)
}

// Registry is the set of devices a machine has: the configured ones plus
// the default virtual device1 when no device1 is configured.
type Registry struct {
	devices []DeviceConfig
	env     Environment
}

// NewRegistry validates the device list. Errors wrap ErrBadDeviceConfig.
func NewRegistry(devices []DeviceConfig, env Environment) (*Registry, error) {
	seen := map[string]bool{}
	var out []DeviceConfig
	hasDefault := false
	for i, d := range devices {
		if d.ID == "" {
			return nil, fmt.Errorf("%w: devices[%d] has no id", ErrBadDeviceConfig, i)
		}
		if seen[d.ID] {
			return nil, fmt.Errorf("%w: device id %q appears twice", ErrBadDeviceConfig, d.ID)
		}
		seen[d.ID] = true
		if d.Name == "" {
			d.Name = d.ID
		}
		if _, err := d.Driver(); err != nil {
			return nil, err
		}
		if d.DropRate < 0 || d.DropRate > 1 {
			return nil, fmt.Errorf("%w: device %s: drop_rate must be between 0 and 1, got %g", ErrBadDeviceConfig, d.ID, d.DropRate)
		}
		for _, tag := range d.Tags {
			if tag == "" || strings.ContainsAny(tag, " \t,/:") {
				return nil, fmt.Errorf("%w: device %s: tag %q: a tag is one word (letters, digits, - or _)", ErrBadDeviceConfig, d.ID, tag)
			}
		}
		if d.ID == DefaultDevice.ID {
			hasDefault = true
		}
		out = append(out, d)
	}
	if !hasDefault {
		out = append([]DeviceConfig{DefaultDevice}, out...)
	}
	return &Registry{devices: out, env: env}, nil
}

// Devices returns every device's configuration, device1 first, then in
// configuration order.
func (r *Registry) Devices() []DeviceConfig { return append([]DeviceConfig(nil), r.devices...) }

// IDs returns every device id.
func (r *Registry) IDs() []string {
	ids := make([]string, len(r.devices))
	for i, d := range r.devices {
		ids[i] = d.ID
	}
	return ids
}

// Config returns the configuration of a device (ErrUnknownDevice).
func (r *Registry) Config(id string) (DeviceConfig, error) {
	for _, d := range r.devices {
		if d.ID == id {
			return d, nil
		}
	}
	return DeviceConfig{}, &UnknownDeviceError{ID: id, Available: r.IDs()}
}

// Open builds the device with that id. It never substitutes another device.
func (r *Registry) Open(id string) (Device, error) {
	cfg, err := r.Config(id)
	if err != nil {
		return nil, err
	}
	return OpenConfig(cfg, r.env)
}

// OpenWithUI builds a device that shows the userinterface u (the virtual
// device renders it; nil: the device's own or the built-in one).
func (r *Registry) OpenWithUI(cfg DeviceConfig, u *ui.UI) (Device, error) {
	env := r.env
	if u != nil {
		cfg.UserInterface = u.Name
		env.UserInterfaces = func(name string) (*ui.UI, error) {
			if name == u.Name {
				return u, nil
			}
			return r.env.UserInterfaces(name)
		}
	}
	return OpenConfig(cfg, env)
}

// OpenConfig builds a device from its configuration.
func OpenConfig(cfg DeviceConfig, env Environment) (Device, error) {
	name, err := cfg.Driver()
	if err != nil {
		return nil, err
	}
	driversMu.Lock()
	open := drivers[name]
	driversMu.Unlock()
	if open == nil {
		return nil, fmt.Errorf("%w: driver %q is not built into this vpt", ErrBadDeviceConfig, name)
	}
	return open(cfg, env)
}

// UnknownDeviceError names the devices that exist.
type UnknownDeviceError struct {
	ID        string
	Available []string
}

func (e *UnknownDeviceError) Error() string {
	return fmt.Sprintf("Device %s not found. Available: [%s]", e.ID, strings.Join(e.Available, ", "))
}

// Unwrap returns ErrUnknownDevice.
func (e *UnknownDeviceError) Unwrap() error { return ErrUnknownDevice }

// HintText suggests how to fix it.
func (e *UnknownDeviceError) HintText() string {
	return "list devices with: vpt devices; add devices to the devices: list of vpt.yaml"
}

// DevicesFromEnv reads upstream's DEVICE{i}_* variables (i = 1..12; a
// device exists when DEVICE{i}_NAME is set, its id is device{i}) and the
// HOST_VIDEO_SOURCE display of the host.
func DevicesFromEnv(environ []string) []DeviceConfig {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var out []DeviceConfig
	for i := 1; i <= 12; i++ {
		p := fmt.Sprintf("DEVICE%d_", i)
		name := env[p+"NAME"]
		if name == "" {
			continue
		}
		d := DeviceConfig{
			ID: fmt.Sprintf("device%d", i), Name: name, Model: env[p+"MODEL"],
			Video: env[p+"VIDEO"], Audio: env[p+"VIDEO_AUDIO"],
			IR: IRConfig{Device: env[p+"IR_PATH"], Keymap: env[p+"IR_TYPE"]},
		}
		if d.Model == "" {
			d.Model = "unknown"
		}
		if d.Audio == "null" {
			d.Audio = ""
		}
		if fps, err := strconv.Atoi(env[p+"VIDEO_FPS"]); err == nil {
			d.FPS = fps
		}
		if ip := env[p+"IP"]; ip != "" {
			port := env[p+"PORT"]
			if port == "" {
				port = "5555"
			}
			d.ADB = ip + ":" + port
		}
		out = append(out, d)
	}
	if src := env["HOST_VIDEO_SOURCE"]; strings.HasPrefix(src, ":") {
		name := env["HOST_NAME"]
		if name == "" {
			name = "host"
		}
		d := DeviceConfig{ID: "host", Name: name + "_Host", Model: "host", Display: src}
		if fps, err := strconv.Atoi(env["HOST_VIDEO_FPS"]); err == nil {
			d.FPS = fps
		}
		out = append(out, d)
	}
	return out
}

// MergeDevices lays configured devices over environment ones: an id in
// both takes the configured entry.
func MergeDevices(configured, fromEnv []DeviceConfig) []DeviceConfig {
	have := map[string]bool{}
	for _, d := range configured {
		have[d.ID] = true
	}
	out := append([]DeviceConfig(nil), configured...)
	for _, d := range fromEnv {
		if !have[d.ID] {
			out = append(out, d)
		}
	}
	return out
}
