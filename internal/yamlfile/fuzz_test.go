package yamlfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// fuzzDoc has every shape the decoder checks: scalars of each kind,
// durations, nested structs, pointers, lists, maps, free-form values, an
// inline map of extra keys and a type that reads itself.
type fuzzDoc struct {
	doc     `yaml:",inline"`
	Devices []struct {
		ID      string                `yaml:"id"`
		Latency time.Duration         `yaml:"latency"`
		Drop    float32               `yaml:"drop"`
		Seed    int64                 `yaml:"seed"`
		IR      *struct{ Key string } `yaml:"ir"`
	} `yaml:"devices"`
	Grid   [][]uint8       `yaml:"grid"`
	Self   selfReading     `yaml:"self"`
	Extras map[string]item `yaml:"extras"`
	Rest   map[string]any  `yaml:",inline"`
}

type selfReading struct{ v string }

func (s *selfReading) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: self: expected text", n.Line)
	}
	s.v = n.Value
	return nil
}

// FuzzDecode: the strict decoder never panics nor runs away on any input,
// and each problem it reports names the file and, unless the file is
// empty, a line of it.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"name: [x]\ncount: three\nratio: no\non: maybe\nwait: soon\nitems: {id: x}\nnmae: y\nunsigned: -1\ncount: 3\n",
		"name: a\ncount: 2\nwait: 1m\nitems: [{id: x}]\nparams: {a: 1, b: [1, 2]}\n",
		"devices:\n  - id: d1\n    latency: 50ms\n    drop: 0.5\n    ir: {key: OK}\n  - &d {id: d2, seed: 7}\n  - *d\ngrid: [[1, 2], [300]]\n",
		"base: &b {id: x}\nextras:\n  one: *b\n  two: {<<: *b, id: y}\nself: {a: 1}\nother: [1, {x: y}]\n",
		"a0: &a0 [x, x, x, x, x, x, x, x, x, x]\na1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\na2: [*a1, *a1, *a1, *a1, *a1, *a1, *a1]\n",
		"# only a comment\n", "---\n...\n", "key: 'unterminated\n", "\ttab: 1\n", "a: b: c\n", "- [\n", "!!binary x: y\n",
		"wait: !!int 3\non: !!str true\ncount: 0x1F\nunsigned: 1e3\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v fuzzDoc
		_, err := Decode("f.yaml", data, &v)
		if err == nil {
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("Decode(%q): %T %v, want Problems", data, err, err)
		}
		lines := yamlLines(data)
		for _, p := range ps {
			if p.File != "f.yaml" || !strings.HasPrefix(p.Error(), "f.yaml") {
				t.Fatalf("Decode(%q): problem %q does not name the file", data, p.Error())
			}
			if p.Hint == ErrEmpty.Error() {
				continue
			}
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("Decode(%q): problem %q is at line %d of %d", data, p.Error(), p.Line, lines)
			}
		}
	})
}

// yamlLines counts lines as YAML does: a line break is CR LF, CR, LF or
// one of NEL, LS and PS.
func yamlLines(data []byte) int {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	n := 1
	for _, r := range s {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}
