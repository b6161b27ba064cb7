package yamlfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type doc struct {
	Name     string            `yaml:"name"`
	Count    int               `yaml:"count"`
	Ratio    float64           `yaml:"ratio"`
	On       bool              `yaml:"on"`
	Wait     time.Duration     `yaml:"wait"`
	Items    []item            `yaml:"items"`
	Params   map[string]any    `yaml:"params"`
	Labels   map[string]string `yaml:"labels"`
	Unsigned uint              `yaml:"unsigned"`
}

type item struct {
	ID string `yaml:"id"`
}

func TestProblems(t *testing.T) {
	_, err := Decode("f.yaml", []byte("name: [x]\ncount: three\nratio: no\non: maybe\nwait: soon\nitems: {id: x}\nnmae: y\nunsigned: -1\ncount: 3\n"), &doc{})
	for _, want := range []string{
		"f.yaml:1:7: name: expected text, got a list",
		`f.yaml:2:8: count: expected a whole number, got "three"`,
		`f.yaml:3:8: ratio: expected a number, got "no"`,
		`f.yaml:4:5: on: expected true or false, got "maybe"`,
		`f.yaml:5:7: wait: expected a duration such as 30s or 5m, got "soon"`,
		"f.yaml:6:8: items: expected a list, got a mapping",
		"f.yaml:7:1: nmae: unknown key (did you mean name?)",
		"f.yaml:8:11: unsigned: expected a number of zero or more, got -1",
		"f.yaml:9:1: count: appears twice",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

func TestGoodDocument(t *testing.T) {
	var d doc
	if _, err := Decode("f.yaml", []byte("name: a\ncount: 2\nwait: 1m\nitems: [{id: x}]\nparams: {a: 1, b: [1, 2]}\n"), &d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "a" || d.Wait != time.Minute || d.Items[0].ID != "x" || d.Params["a"] != 1 {
		t.Fatalf("%+v", d)
	}
}

func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	big := write("big.yaml", make([]byte, MaxFileSize+1))
	cases := map[string]string{
		dir: "is a directory",
		write("bin.yaml", []byte("a: 1\n\x00\x01")): "is binary",
		write("utf.yaml", []byte("a: caf\xe9\n")):   ":1:7: is not valid UTF-8",
		big: "more than the 4 MB",
	}
	for path, want := range cases {
		if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
	}
	// A billion laughs: anchors that expand exponentially.
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	var v map[string]any
	start := time.Now()
	_, err := Decode("laughs.yaml", []byte(b.String()), &v)
	if err == nil || !strings.Contains(err.Error(), "expands too much") {
		t.Fatalf("laughs: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("took too long to refuse")
	}
}

// Every problem names a line, those yaml.v3 gives none for included.
func TestProblemsWithoutALineFromYAML(t *testing.T) {
	for in, want := range map[string]string{
		"a: b: c\n":   "f.yaml:1: mapping values are not allowed",
		"\tname: x\n": "f.yaml:1: found character that cannot start any token",
		"name: x\ncount: 2\nparams: {a: *nope}\n": "f.yaml:3:13: unknown anchor 'nope' referenced",
		"name: x\nlabels:\n  k: !!binary '@@@'\n": "f.yaml:3:6: !!binary value contains invalid base64 data",
		"name: x\nparams:\n  b: 1\n  <<: 3\n":     "f.yaml:3:3: map merge requires map or sequence of maps",
	} {
		_, err := Decode("f.yaml", []byte(in), &doc{})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %s…", in, err, want)
		}
	}
}
