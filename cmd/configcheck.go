package cmd

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/yamlfile"
)

// problem is one bad value of the configuration: its key ("video.fps"),
// the path of its node in vpt.yaml when that is deeper than the key
// (devices[2].key_latency), and what is wrong with it.
type problem struct {
	key  string
	path []any
	msg  string
	// variable names where the value came from when that is no key's
	// variable: a device of upstream's DEVICE{i}_* variables.
	variable string
}

type problems []problem

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, problem{key: key, msg: fmt.Sprintf(format, args...)})
}

func (ps *problems) addAt(key string, path []any, format string, args ...any) {
	*ps = append(*ps, problem{key: key, path: path, msg: fmt.Sprintf(format, args...)})
}

// origin tells where each key of the configuration was set, so that an
// error names what the user typed: the flag, the variable, or the line of
// vpt.yaml.
type origin struct {
	file  string
	root  *yaml.Node
	flags *pflag.FlagSet
	bind  map[string]string
	env   map[string]string
}

// where names the place a key was set: "--timeout", "VPT_TIMEOUT", or
// vpt.yaml with its line.
func (o origin) where(p problem) error {
	switch {
	case p.variable != "":
		return fmt.Errorf("%s: %s", p.variable, p.msg)
	case flagChanged(o.flags, o.bind[p.key]):
		return fmt.Errorf("--%s: %s", o.bind[p.key], p.msg)
	case o.env[envName(p.key)] != "":
		return fmt.Errorf("%s: %s", envName(p.key), p.msg)
	case o.file != "" && o.root != nil:
		path := p.path
		if path == nil {
			for _, part := range strings.Split(p.key, ".") {
				path = append(path, part)
			}
		}
		return yamlfile.At(o.file, o.root, fieldName(path), p.msg, "", path...)
	}
	return fmt.Errorf("configuration: %s: %s", p.key, p.msg)
}

// fieldName writes a node path as the dotted field name errors use:
// devices[2].key_latency.
func fieldName(path []any) string {
	var b strings.Builder
	for _, part := range path {
		switch x := part.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", x)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, x)
		}
	}
	return b.String()
}

// errs places every problem.
func (o origin) errs(ps []problem) error {
	var lines []string
	for _, p := range ps {
		lines = append(lines, o.where(p).Error())
	}
	return &configError{fmt.Errorf("%s", strings.Join(lines, "\n"))}
}

// checkEnvValues refuses a VPT_* variable whose value is not of its key's
// type before viper decodes it (viper's error names neither the variable
// nor the type).
func checkEnvValues(env map[string]string) []problem {
	var ps problems
	for key, def := range defaults {
		val := env[envName(key)]
		if val == "" {
			continue
		}
		var err error
		want := ""
		switch def.(type) {
		case time.Duration:
			_, err = time.ParseDuration(val)
			want = "a duration such as 30s or 5m"
		case int:
			_, err = strconv.Atoi(val)
			want = "a whole number"
		case float64:
			_, err = strconv.ParseFloat(val, 64)
			want = "a number"
		case bool:
			_, err = strconv.ParseBool(val)
			want = "true or false"
		}
		if err != nil {
			ps.add(key, "%q: give %s", val, want)
		}
	}
	return ps
}

// checkDevices checks the devices: list where vpt.yaml can say which
// line is wrong; the registry checks what needs the drivers.
func checkDevices(devices []capture.DeviceConfig, ps *problems) {
	first := map[string]int{}
	for i, d := range devices {
		at := func(field, format string, args ...any) {
			if variable, ok := d.EnvVariable(field); ok {
				*ps = append(*ps, problem{key: "devices", msg: fmt.Sprintf(format, args...), variable: variable})
				return
			}
			ps.addAt("devices", []any{"devices", i, field}, format, args...)
		}
		if d.ID == "" {
			ps.addAt("devices", []any{"devices", i}, "has no id: give it one (id: device1), the name --device takes")
		} else {
			if j, ok := first[d.ID]; ok {
				at("id", "%q is also the id of devices[%d]: give each device its own id", d.ID, j)
			} else {
				first[d.ID] = i
			}
		}
		if d.Model != "" && !slices.Contains(capture.KnownModels, d.Model) {
			hint := ""
			if near := yamlfile.Closest(d.Model, capture.KnownModels, 1); len(near) > 0 {
				hint = "did you mean " + near[0] + "? "
			}
			at("model", "unknown model %q (%sknown: %s)", d.Model, hint, strings.Join(capture.KnownModels, ", "))
		}
		for _, x := range []struct {
			field string
			v     time.Duration
		}{{"key_latency", d.KeyLatency}, {"screenrecord_limit", d.ScreenrecordLimit}} {
			if x.v < 0 {
				at(x.field, "%s: cannot be negative", x.v)
			}
		}
		if field, port, ok := adbPort(d); ok {
			at(field, "%q: give the port adb connects to, a number from 1 to 65535", port)
		}
		if d.FPS < 0 || d.FPS > 120 {
			at("fps", "%d: use 1 to 120 (or leave it out for the card's rate)", d.FPS)
		}
		if d.DropRate < 0 || d.DropRate > 1 {
			at("drop_rate", "%g: use a fraction from 0 to 1", d.DropRate)
		}
	}
}

// placeDeviceField says where the device field an error blames was set:
// vpt.yaml's line (devices[2].video), or the DEVICE{i}_* variable. The
// error is then a configuration error; others pass as they are.
func placeDeviceField(cfg *Config, err error) error {
	var fe *capture.FieldError
	if cfg == nil || !errors.As(err, &fe) {
		return err
	}
	for i, d := range cfg.Devices {
		if d.ID != fe.Device {
			continue
		}
		// The place says what kind of error it is.
		p := problem{key: "devices", msg: strings.ReplaceAll(fe.Err.Error(), capture.ErrBadDeviceConfig.Error()+": ", "")}
		if v, ok := d.EnvVariable(fe.Field); ok {
			p.variable = v
		} else {
			p.path = []any{"devices", i}
			for _, part := range strings.Split(fe.Field, ".") {
				p.path = append(p.path, part)
			}
		}
		return &configError{&placedError{msg: cfg.where.where(p).Error(), err: err}}
	}
	return err
}

// placedError is an error told with where its cause was set; its hint,
// kind and exit code are the cause's.
type placedError struct {
	msg string
	err error
}

func (e *placedError) Error() string { return e.msg }
func (e *placedError) Unwrap() error { return e.err }

// adbPort finds a bad port in a device's adb address (host:port; a
// serial has no colon): the field to name, and what it holds. The port of
// upstream's variables is DEVICE{i}_PORT.
func adbPort(d capture.DeviceConfig) (field, bad string, ok bool) {
	i := strings.LastIndexByte(d.ADB, ':')
	if i < 0 || strings.Count(d.ADB, ":") > 1 && !strings.HasPrefix(d.ADB, "[") {
		return "", "", false // a serial, or a bare IPv6 address
	}
	port := d.ADB[i+1:]
	if n, err := strconv.Atoi(port); err == nil && n >= 1 && n <= 65535 {
		return "", "", false
	}
	if d.EnvPrefix != "" {
		return "port", port, true
	}
	return "adb", d.ADB, true
}

// runVariables are the VPT_* variables vpt sets for the scripts it runs
// (and its tests and benchmarks read): seen in vpt's own environment they
// are not a mistake.
var runVariables = []string{"VPT_CONTROL", "VPT_DEVICE", "VPT_DEVICE_NAME", "VPT_DEVICE_MODEL", "VPT_USERINTERFACE", "VPT_RUN_ID",
	"VPT_SCRIPT", "VPT_BIN", "VPT_HOST", "VPT_SERVE_TOKEN", "VPT_REQUIRE_SERVICES"}

// unknownVariables warns of VPT_* variables that set nothing
// (VPT_VIDEO=off, when the key is video.mode): without a word the run
// would silently go on with the default.
func unknownVariables(env map[string]string) []capture.EnvNote {
	known := slices.Clone(runVariables)
	for key := range defaults {
		known = append(known, envName(key))
	}
	var notes []capture.EnvNote
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if !strings.HasPrefix(name, "VPT_") || slices.Contains(known, name) ||
			strings.HasPrefix(name, "VPT_TEST_") || strings.HasPrefix(name, "VPT_E2E_") || strings.HasPrefix(name, "VPT_BENCH") {
			continue
		}
		msg := name + " is not a variable of vpt's: it sets nothing"
		if key, ok := keyOfFlagVariable(name); ok {
			msg += " (the variable of --" + flagKeys[key] + " is " + envName(key) + ")"
		} else if near := yamlfile.Closest(name, known, 1); len(near) > 0 {
			msg += " (did you mean " + near[0] + "?)"
		}
		notes = append(notes, capture.EnvNote{Msg: msg, Ignored: true})
	}
	return notes
}

// keyOfFlagVariable finds the key whose flag the variable is named after
// (VPT_VIDEO: --video, whose key video.mode has VPT_VIDEO_MODE).
func keyOfFlagVariable(name string) (string, bool) {
	for key, flag := range flagKeys {
		if name == "VPT_"+strings.ToUpper(strings.ReplaceAll(flag, "-", "_")) {
			return key, true
		}
	}
	return "", false
}
