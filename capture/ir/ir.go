// Package ir sends remote-control keys through an IR blaster: ir-ctl (the
// kernel's LIRC device, /dev/lirc0) or irsend (the LIRC daemon). Keymaps,
// one per remote type, are data files: key name → code.
package ir

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/internal/tool"
	"github.com/vpt-dev/vpt/internal/yamlfile"
)

//go:embed keymaps/*.yaml
var builtin embed.FS

// Keymap is one remote type.
type Keymap struct {
	Remote string `yaml:"remote"`
	// Protocol: samsung32 (sent as pulse/space timings), or a scancode
	// protocol ir-ctl encodes itself (nec, necx, nec32, rc5, rc6_0,
	// rc6_mce, sony12, sony15, sony20, jvc, sanyo, sharp…), or raw (each
	// key is a list of pulse/space microseconds).
	Protocol string            `yaml:"protocol"`
	Keys     map[string]string `yaml:"keys"`
	File     string            `yaml:"-"`
}

// sendTimeout bounds one IR send, as upstream (5 s).
const sendTimeout = 5 * time.Second

// LoadKeymap finds a keymap by remote type in dirs, then among the
// built-in ones.
func LoadKeymap(name string, dirs []string) (*Keymap, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: the ir: section needs keymap: (the remote type, for example samsung)", capture.ErrBadDeviceConfig)
	}
	for _, d := range dirs {
		for _, ext := range []string{".yaml", ".yml"} {
			p := filepath.Join(d, name+ext)
			data, err := yamlfile.ReadFile(p)
			if err == nil {
				return parse(p, data)
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: %w", capture.ErrBadDeviceConfig, err)
			}
		}
	}
	data, err := builtin.ReadFile("keymaps/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("%w: no IR keymap %q (built in: %s; add NAME.yaml files to keymaps_dir)",
			capture.ErrBadDeviceConfig, name, strings.Join(Builtin(), ", "))
	}
	return parse("keymaps/"+name+".yaml", data)
}

// Builtin lists the keymaps shipped with vpt.
func Builtin() []string {
	entries, _ := builtin.ReadDir("keymaps")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

func parse(file string, data []byte) (*Keymap, error) {
	var k Keymap
	if _, err := yamlfile.Decode(file, data, &k); err != nil {
		return nil, fmt.Errorf("%w: %w", capture.ErrBadDeviceConfig, err)
	}
	k.File = file
	if k.Protocol == "" {
		return nil, fmt.Errorf("%w: %s: keymap needs protocol:", capture.ErrBadDeviceConfig, file)
	}
	norm := map[string]string{}
	from := map[string]string{} // canonical name -> the name in the file
	names := make([]string, 0, len(k.Keys))
	for name := range k.Keys {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		code := k.Keys[name]
		if _, err := k.encode(code); err != nil {
			return nil, fmt.Errorf("%w: %s: key %s: %v", capture.ErrBadDeviceConfig, file, name, err)
		}
		key := capture.NormalizeKey(name)
		if other, dup := from[key]; dup && norm[key] != code {
			return nil, fmt.Errorf("%w: %s: keys %s and %s are the same key in vpt (%s) with different codes; keep one",
				capture.ErrBadDeviceConfig, file, other, name, key)
		}
		norm[key], from[key] = code, name
	}
	k.Keys = norm
	return &k, nil
}

// Sender sends keys with one tool.
type Sender struct {
	Keymap *Keymap
	Device string // /dev/lirc0 (ir-ctl)
	Tool   string // ir-ctl or irsend
	Path   string // the tool's program name or path
	Remote string // LIRC remote name (irsend)
}

// Press sends one key.
func (s *Sender) Press(ctx context.Context, key string) error {
	key = capture.NormalizeKey(key)
	code, ok := s.Keymap.Keys[key]
	if !ok {
		known := make([]string, 0, len(s.Keymap.Keys))
		for k := range s.Keymap.Keys {
			known = append(known, k)
		}
		return &capture.UnknownKeyError{Key: key, Device: "the " + s.Keymap.Remote + " remote", Known: known}
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	argv, file, err := s.Argv(key, code)
	if err != nil {
		return err
	}
	if file != "" {
		defer os.Remove(file)
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		if tool.Missing(err) {
			return fmt.Errorf("%w: %s sends IR keys (apt-get install %s)", capture.ErrToolMissing, argv[0], aptPackage(s.Tool))
		}
		return fmt.Errorf("%s %s: %v: %s", argv[0], key, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func aptPackage(tool string) string {
	if tool == "irsend" {
		return "lirc"
	}
	return "v4l-utils"
}

// Argv returns the command that sends key, and the timing file it needs
// (removed by the caller after use).
func (s *Sender) Argv(key, code string) ([]string, string, error) {
	tool := s.Tool
	if tool == "" {
		tool = "ir-ctl"
	}
	path := s.Path
	if path == "" {
		path = tool
	}
	if tool == "irsend" {
		remote := s.Remote
		if remote == "" {
			remote = s.Keymap.Remote
		}
		return []string{path, "SEND_ONCE", remote, "KEY_" + key}, "", nil
	}
	dev := s.Device
	if dev == "" {
		dev = "/dev/lirc0"
	}
	switch s.Keymap.Protocol {
	case "samsung32", "raw":
		timings, err := s.Keymap.encode(code)
		if err != nil {
			return nil, "", err
		}
		f, err := os.CreateTemp("", "vpt-ir-*.txt")
		if err != nil {
			return nil, "", err
		}
		f.WriteString(timings)
		f.Close()
		return []string{path, "-d", dev, "--send=" + f.Name()}, f.Name(), nil
	}
	return []string{path, "-d", dev, "-S", s.Keymap.Protocol + ":" + code}, "", nil
}

// encode turns a code into ir-ctl's pulse/space text for the protocols
// vpt encodes itself.
func (k *Keymap) encode(code string) (string, error) {
	switch k.Protocol {
	case "samsung32":
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(code), "0x"), 16, 32)
		if err != nil {
			return "", fmt.Errorf("samsung32 code %q is not 32-bit hex", code)
		}
		return Samsung32(uint32(v)), nil
	case "raw":
		var b strings.Builder
		for i, f := range strings.Fields(code) {
			us, err := strconv.Atoi(f)
			if err != nil || us <= 0 {
				return "", fmt.Errorf("raw timing %q is not a positive number of microseconds", f)
			}
			kind := "pulse"
			if i%2 == 1 {
				kind = "space"
			}
			fmt.Fprintf(&b, "%s %d\n", kind, us)
		}
		return b.String(), nil
	}
	if _, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(code), "0x"), 16, 64); err != nil {
		return "", fmt.Errorf("scancode %q is not hex", code)
	}
	return "", nil
}

// Samsung32 timings (microseconds): a 4.5 ms leader, 32 bits most
// significant first, a final pulse.
func Samsung32(v uint32) string {
	var b strings.Builder
	b.WriteString("pulse 4500\nspace 4500\n")
	for i := 31; i >= 0; i-- {
		b.WriteString("pulse 560\n")
		if v>>uint(i)&1 == 1 {
			b.WriteString("space 1690\n")
		} else {
			b.WriteString("space 560\n")
		}
	}
	b.WriteString("pulse 560\n")
	return b.String()
}
