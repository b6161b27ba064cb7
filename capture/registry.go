package capture

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/internal/lazyre"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/internal/yamlfile"
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
	// Source names where the device came from when not from vpt.yaml
	// ("the DEVICE2_* variables"), for messages.
	Source string `yaml:"-" json:"-"`
	// EnvPrefix is "DEVICE2_" for a device of those variables.
	EnvPrefix string `yaml:"-" json:"-"`
}

// envFieldVariables are the DEVICE{i}_* variables of the fields they set
// (the field's own name in capitals when not here).
var envFieldVariables = map[string]string{"fps": "VIDEO_FPS", "audio": "VIDEO_AUDIO", "adb": "IP", "ir": "IR_PATH",
	"ir.device": "IR_PATH", "ir.keymap": "IR_TYPE"}

// EnvVariable names the variable that set field (vpt.yaml's name: fps)
// of a device of upstream's DEVICE{i}_* variables: DEVICE1_VIDEO_FPS.
func (c DeviceConfig) EnvVariable(field string) (string, bool) {
	if c.EnvPrefix == "" {
		return "", false
	}
	if v, ok := envFieldVariables[field]; ok {
		return c.EnvPrefix + v, true
	}
	return c.EnvPrefix + strings.ToUpper(field), true
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

// KnownModels are the device models vpt knows (upstream's names, and
// virtual): a model says what the device is, its fields (adb:, video:,
// display:) how vpt reaches it.
var KnownModels = []string{"virtual", "android_mobile", "android_tv", "fire_tv", "stb", "apple_tv", "host", "host_vnc"}

// Driver picks the driver that serves a device: the model says virtual or
// host; a video source means an HDMI capture card (keys by IR, or by ADB
// for Android TV sticks); an ADB target alone means Android over ADB.
func (c DeviceConfig) Driver() (string, error) {
	if c.Model != "" && !slices.Contains(KnownModels, c.Model) {
		hint := ""
		if near := closestModel(c.Model); near != "" {
			hint = "did you mean " + near + "? "
		}
		return "", Field(c.ID, "model", fmt.Errorf("%w: device %s: unknown model %q (%sknown: %s)", ErrBadDeviceConfig, c.ID, c.Model, hint,
			strings.Join(KnownModels, ", ")))
	}
	switch {
	case c.Model == "virtual":
		return DriverVirtual, nil
	case c.Model == "host" || c.Model == "host_vnc" || c.Display != "" && c.Video == "":
		if c.Display == "" {
			return "", Field(c.ID, "display", fmt.Errorf("%w: device %s (model %s) needs display: (for example \":0\")", ErrBadDeviceConfig, c.ID, c.Model))
		}
		return DriverHost, nil
	case c.Video != "":
		return DriverHDMI, nil
	case c.ADB != "":
		return DriverADB, nil
	}
	switch c.Model {
	case "android_mobile", "android_tv":
		return "", Field(c.ID, "adb", fmt.Errorf("%w: device %s (model %s) needs adb: (a serial or ip:port) or video: (an HDMI capture device)", ErrBadDeviceConfig, c.ID, c.Model))
	case "":
		return "", Field(c.ID, "model", fmt.Errorf("%w: device %s has no model (use %s)", ErrBadDeviceConfig, c.ID, strings.Join(KnownModels, ", ")))
	}
	return "", Field(c.ID, "video", fmt.Errorf("%w: device %s (model %s) needs video: (an HDMI capture device such as /dev/video0)", ErrBadDeviceConfig, c.ID, c.Model))
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

func closestModel(m string) string {
	if near := yamlfile.Closest(m, KnownModels, 1); len(near) > 0 {
		return near[0]
	}
	return ""
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

// ConfigCheck checks what a driver reads of a device's configuration
// beyond what Driver does (an IR keymap that exists), without touching
// the device; errors wrap ErrBadDeviceConfig.
type ConfigCheck func(cfg DeviceConfig, env Environment) error

var checks = map[string]ConfigCheck{}

// RegisterConfigCheck makes NewRegistry check the configuration of every
// device of a driver, so that a mistake in it is a configuration error
// found before anything runs, not a device that does not answer.
func RegisterConfigCheck(driver string, check ConfigCheck) {
	driversMu.Lock()
	defer driversMu.Unlock()
	checks[driver] = check
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

// NewRegistry validates the device list. Errors wrap ErrBadDeviceConfig
// and name the variables a device came from (DeviceConfig.Source).
func NewRegistry(devices []DeviceConfig, env Environment) (*Registry, error) {
	seen := map[string]bool{}
	var out []DeviceConfig
	hasDefault := false
	for i, d := range devices {
		if d.ID == "" {
			return nil, fmt.Errorf("%w: devices[%d] has no id", ErrBadDeviceConfig, i)
		}
		if seen[d.ID] {
			return nil, d.from(fmt.Errorf("%w: device id %q appears twice", ErrBadDeviceConfig, d.ID))
		}
		seen[d.ID] = true
		if d.Name == "" {
			d.Name = d.ID
		}
		driver, err := d.Driver()
		if err != nil {
			return nil, d.from(err)
		}
		driversMu.Lock()
		check := checks[driver]
		driversMu.Unlock()
		if check != nil {
			if err := check(d, env); err != nil {
				return nil, d.from(err)
			}
		}
		if d.DropRate < 0 || d.DropRate > 1 {
			return nil, d.from(Field(d.ID, "drop_rate", fmt.Errorf("%w: device %s: drop_rate must be between 0 and 1, got %g", ErrBadDeviceConfig, d.ID, d.DropRate)))
		}
		for _, tag := range d.Tags {
			if tag == "" || strings.ContainsAny(tag, " \t,/:") {
				return nil, d.from(Field(d.ID, "tags", fmt.Errorf("%w: device %s: tag %q: a tag is one word (letters, digits, - or _)", ErrBadDeviceConfig, d.ID, tag)))
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

// from says where a device with a problem came from, when not vpt.yaml.
func (c DeviceConfig) from(err error) error {
	if c.Source == "" {
		return err
	}
	return fmt.Errorf("%w (set by %s)", err, c.Source)
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

// envDeviceRe matches upstream's per-device variables: DEVICE{i}_{FIELD}.
var envDeviceRe = lazyre.New(`^DEVICE([1-9][0-9]*)_([A-Z0-9_]+)$`)

// envDeviceFields are the DEVICE{i}_* fields vpt reads; upstream's .env
// has more (stream paths, power control…) that vpt has no use for.
var envDeviceFields = map[string]bool{"NAME": true, "MODEL": true, "IP": true, "PORT": true, "VIDEO": true,
	"VIDEO_AUDIO": true, "VIDEO_FPS": true, "IR_PATH": true, "IR_TYPE": true}

// EnvNote is something DevicesFromEnv left out, and why.
type EnvNote struct {
	Msg string
	// Ignored: a whole device was left out (a warning); else only
	// variables vpt does not use.
	Ignored bool
}

// DevicesFromEnv reads upstream's DEVICE{i}_* variables (any i ≥ 1: the
// variables of one i describe device{i}) and the HOST_VIDEO_SOURCE display
// of the host. A group needs DEVICE{i}_NAME and DEVICE{i}_MODEL; a group
// without them is left out, and the notes say so, as they name the
// variables vpt does not use.
func DevicesFromEnv(environ []string) ([]DeviceConfig, []EnvNote) {
	env := map[string]string{}
	groups := map[int][]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		env[k] = v
		if m := envDeviceRe().FindStringSubmatch(k); m != nil && v != "" {
			i, _ := strconv.Atoi(m[1])
			groups[i] = append(groups[i], k)
		}
	}
	var out []DeviceConfig
	var notes []EnvNote
	for _, i := range slices.Sorted(maps.Keys(groups)) {
		p := fmt.Sprintf("DEVICE%d_", i)
		vars := groups[i]
		sort.Strings(vars)
		var unused []string
		for _, k := range vars {
			if !envDeviceFields[strings.TrimPrefix(k, p)] {
				unused = append(unused, k)
			}
		}
		name, model := env[p+"NAME"], env[p+"MODEL"]
		if name == "" || model == "" {
			missing := p + "NAME"
			if name != "" {
				missing = p + "MODEL"
			}
			verb := "is"
			if len(vars) > 1 {
				verb = "are"
			}
			notes = append(notes, EnvNote{Ignored: true, Msg: fmt.Sprintf("%s %s set but %s is not: device%d is left out (set %s, or unset %s)",
				strings.Join(vars, ", "), verb, missing, i, missing, p+"*")})
			continue
		}
		if len(unused) > 0 {
			notes = append(notes, EnvNote{Msg: fmt.Sprintf("device%d: vpt does not use %s", i, strings.Join(unused, ", "))})
		}
		d := DeviceConfig{
			ID: fmt.Sprintf("device%d", i), Name: name, Model: model,
			Video: env[p+"VIDEO"], Audio: env[p+"VIDEO_AUDIO"],
			IR:     IRConfig{Device: env[p+"IR_PATH"], Keymap: env[p+"IR_TYPE"]},
			Source: "the " + p + "* variables", EnvPrefix: p,
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
		d := DeviceConfig{ID: "host", Name: name + "_Host", Model: "host", Display: src, Source: "HOST_VIDEO_SOURCE"}
		if fps, err := strconv.Atoi(env["HOST_VIDEO_FPS"]); err == nil {
			d.FPS = fps
		}
		out = append(out, d)
	}
	return out, notes
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
