package campaign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vpt-dev/vpt/internal/yamlfile"
)

// File is a campaign file: the seed's schema, in YAML or JSON (upstream's
// dict shape is JSON).
type File struct {
	CampaignID           string          `yaml:"campaign_id" json:"campaign_id"`
	Name                 string          `yaml:"name" json:"name"`
	Description          string          `yaml:"description" json:"description,omitempty"`
	UserInterfaceName    string          `yaml:"userinterface_name" json:"userinterface_name,omitempty"`
	Host                 string          `yaml:"host" json:"host,omitempty"`
	Device               Devices         `yaml:"device" json:"device,omitempty"`
	ExecutionConfig      ExecutionConfig `yaml:"execution_config" json:"execution_config"`
	ScriptConfigurations []Entry         `yaml:"script_configurations" json:"script_configurations"`

	// Path is the file read; Root its YAML, for positions of problems.
	Path string     `yaml:"-" json:"-"`
	Root *yaml.Node `yaml:"-" json:"-"`
}

// ExecutionConfig is how the campaign runs.
type ExecutionConfig struct {
	// ContinueOnFailure: go on after a failed script (default true).
	ContinueOnFailure *bool `yaml:"continue_on_failure" json:"continue_on_failure,omitempty"`
	// TimeoutMinutes bounds the whole campaign (default 60).
	TimeoutMinutes *float64 `yaml:"timeout_minutes" json:"timeout_minutes,omitempty"`
	// Parallel runs scripts on every device of the pool at once.
	Parallel *bool `yaml:"parallel" json:"parallel,omitempty"`
	// Retries for every entry (an entry's own retries win).
	Retries *int `yaml:"retries" json:"retries,omitempty"`
	// MaxFailures stops the campaign after this many failed entries.
	MaxFailures *int `yaml:"max_failures" json:"max_failures,omitempty"`
	// Distributed runs the campaign on the lab's agents (vpt agent) instead
	// of this machine's devices, as --distributed does.
	Distributed *bool `yaml:"distributed" json:"distributed,omitempty"`
}

// Entry is one script configuration.
type Entry struct {
	ScriptName string `yaml:"script_name" json:"script_name"`
	// Name is the entry's test name in reports and JUnit (default: the
	// script and its parameters, as Label gives it).
	Name        string `yaml:"name" json:"name,omitempty"`
	ScriptType  string `yaml:"script_type" json:"script_type,omitempty"`
	Description string `yaml:"description" json:"description,omitempty"`
	Parameters  Params `yaml:"parameters" json:"parameters,omitempty"`
	// Timeout of this entry's script (a duration: 90s, 5m).
	Timeout string `yaml:"timeout" json:"timeout,omitempty"`
	// Retries of this entry.
	Retries *int `yaml:"retries" json:"retries,omitempty"`
	// Device runs this entry on one device of the pool.
	Device string `yaml:"device" json:"device,omitempty"`
	// UserInterfaceName overrides the campaign's for this entry.
	UserInterfaceName string `yaml:"userinterface_name" json:"userinterface_name,omitempty"`
	// TestcaseID is upstream's in-process test case path, which vpt does not have.
	TestcaseID string `yaml:"testcase_id" json:"testcase_id,omitempty"`
}

// Devices is `device:`: "auto", one id, or a list of ids.
type Devices []string

// UnmarshalYAML reads a string or a list.
func (d *Devices) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*d = splitList(n.Value)
		return nil
	case yaml.SequenceNode:
		var list []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: device: expected device ids", item.Line)
			}
			list = append(list, item.Value)
		}
		*d = list
		return nil
	}
	return fmt.Errorf("line %d: device: expected auto, a device id or a list of ids", n.Line)
}

// Auto reports whether the campaign lets vpt choose devices.
func (d Devices) Auto() bool { return len(d) == 0 || len(d) == 1 && d[0] == "auto" }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Param is one script parameter.
type Param struct {
	Key   string
	Value any // string, bool, int, float
	Line  int
}

// Params keeps parameters in file order: they become --key value in order.
type Params []Param

// UnmarshalYAML reads a mapping of scalars.
func (p *Params) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: parameters: expected a mapping of names to values", n.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return fmt.Errorf("line %d: parameters: %q appears twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: parameters.%s: expected a single value (text, number or true/false)", v.Line, k.Value)
		}
		var val any
		if err := v.Decode(&val); err != nil {
			return fmt.Errorf("line %d: parameters.%s: %v", v.Line, k.Value, err)
		}
		if val == nil {
			val = ""
		}
		*p = append(*p, Param{Key: k.Value, Value: val, Line: v.Line})
	}
	return nil
}

// MarshalJSON keeps the mapping shape in stored copies of the file.
func (p Params) MarshalJSON() ([]byte, error) { return json.Marshal(p.Map()) }

// String renders a parameter value as the script receives it: booleans as
// true/false.
func (x Param) String() string {
	switch v := x.Value.(type) {
	case bool:
		if v {
			return "true"
		}
		return "false"
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%f", v), "0"), ".")
	case string:
		return v
	}
	return fmt.Sprint(x.Value)
}

// Args turns parameters into --key value arguments, as upstream.
func (p Params) Args() []string {
	var out []string
	for _, x := range p {
		out = append(out, "--"+strings.TrimLeft(x.Key, "-"), x.String())
	}
	return out
}

// Map returns the parameters as a map, for the stored campaign row.
func (p Params) Map() map[string]any {
	m := map[string]any{}
	for _, x := range p {
		m[x.Key] = x.Value
	}
	return m
}

// Load reads and decodes a campaign file strictly: every problem of shape
// (unknown keys with the closest known one, wrong types, a file that is not
// text or expands too much) comes back at once with file, line and column.
func Load(path string) (*File, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		p := yamlfile.Problem{File: path, Msg: "no such campaign file"}
		if near := filepath.Join("campaigns", path); fileExists(near) {
			p.Hint = "did you mean " + near + "?"
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, yamlfile.Problems{p})
	}
	data, err := yamlfile.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, asProblems(path, err))
	}
	return Parse(path, data)
}

// Parse decodes campaign text.
func Parse(path string, data []byte) (*File, error) {
	if err := strictJSON(path, data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var f File
	root, err := yamlfile.Decode(path, data, &f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, yamlfile.Problems{{File: path, Line: root.Line, Col: root.Column,
			Msg: "a campaign is a mapping with name, campaign_id and script_configurations"}})
	}
	f.Path, f.Root = path, root
	return &f, nil
}

// strictJSON refuses a .json file that is not JSON: the YAML decoder that
// reads it would take a trailing comma or a comment that every JSON tool
// refuses.
func strictJSON(path string, data []byte) error {
	if !strings.EqualFold(filepath.Ext(path), ".json") {
		return nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return nil // the YAML decoder says what else is wrong
	}
	before := data[:max(0, min(int(se.Offset)-1, len(data)))] // up to the offending byte
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return yamlfile.Problems{{File: path, Line: line, Col: col, Msg: "not valid JSON: " + se.Error(),
		Hint: "a .json campaign file is JSON: no trailing commas, no comments; or write it as .yaml"}}
}

func asProblems(path string, err error) error {
	if _, ok := err.(yamlfile.Problems); ok {
		return err
	}
	return yamlfile.Problems{{File: path, Msg: strings.TrimPrefix(err.Error(), "open "+path+": ")}}
}

// Settings resolved from the file and the command line.
type Settings struct {
	ContinueOnFailure bool
	Timeout           time.Duration
	Parallel          bool
	Retries           int
	MaxFailures       int
	Distributed       bool
}

// DefaultTimeout is the campaign limit when the file sets none.
const DefaultTimeout = 60 * time.Minute

// Settings returns the file's execution settings with upstream's defaults.
func (f *File) Settings() Settings {
	s := Settings{ContinueOnFailure: true, Timeout: DefaultTimeout}
	c := f.ExecutionConfig
	if c.ContinueOnFailure != nil {
		s.ContinueOnFailure = *c.ContinueOnFailure
	}
	if c.TimeoutMinutes != nil {
		s.Timeout = minutes(*c.TimeoutMinutes)
	}
	if c.Parallel != nil {
		s.Parallel = *c.Parallel
	}
	if c.Retries != nil {
		s.Retries = *c.Retries
	}
	if c.MaxFailures != nil {
		s.MaxFailures = *c.MaxFailures
	}
	if c.Distributed != nil {
		s.Distributed = *c.Distributed
	}
	return s
}

// minutes is m minutes; past what a Duration holds it would wrap around,
// so it stops there, and NaN is none (checkFile refuses both).
func minutes(m float64) time.Duration {
	switch {
	case math.IsNaN(m):
		return 0
	case m >= maxTimeoutMinutes:
		return math.MaxInt64
	}
	return time.Duration(m * float64(time.Minute))
}

// Name of the campaign for reports: its name, else its id, else the file.
func (f *File) DisplayName() string {
	switch {
	case f.Name != "":
		return f.Name
	case f.CampaignID != "":
		return f.CampaignID
	}
	return strings.TrimSuffix(filepath.Base(f.Path), filepath.Ext(f.Path))
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}
