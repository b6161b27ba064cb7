package executor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseParams: reading declarations from any source never panics and
// gives named, distinct parameters of known types; a file is read as its
// text is parsed; a declaration written either way is read back as
// written, whatever its name, default and help hold.
func FuzzParseParams(f *testing.F) {
	f.Add("main._script_args = ['--node:str:home', \"--max:int:0\", '--bad']\np.add_argument('--count', '-c', type=int, default=3, help='how many (max 5)')\n",
		"max-iteration", uint8(1), "a:b ] ) 'q' \"d\" \\ \n\t", "help (x) = [y]", false)
	f.Add("p.add_argument('target', help=\"where\")\np.add_argument('--v', action='store_true')\np.add_argument('--o', default=None, dest='out', nargs='?')",
		"n", uint8(3), "", "", true)
	f.Add("_script_args = ['--a:int:1'\np.add_argument('--x', default='unterminated)\n_script_args = [\"--b:str:\\\"]\"]", "url", uint8(0), "http://x:8080", "", true)
	f.Fuzz(func(t *testing.T, src, name string, typ uint8, def, help string, argparse bool) {
		checkParams(t, src, ParseParams(src))
		readBack(t, src)
		decl, want := declaration(name, typ, def, help, argparse)
		if want.Name == "" {
			return
		}
		got := ParseParams(decl)
		if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Fatalf("ParseParams(%q) = %+v, want [%+v]", decl, got, want)
		}
	})
}

func checkParams(t *testing.T, src string, ps []Param) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range ps {
		switch {
		case p.Name == "" || p.Flag == "" || seen[p.Name]:
			t.Fatalf("ParseParams(%q): nameless or repeated %+v", src, p)
		case !strings.Contains("str int float bool flag", p.Type) || p.Type == "" || strings.Contains(p.Type, " "):
			t.Fatalf("ParseParams(%q): type %q", src, p.Type)
		case !p.Positional && !strings.HasPrefix(p.Flag, "-"):
			t.Fatalf("ParseParams(%q): option %+v without a dash", src, p)
		case !p.HasDefault && p.Default != "":
			t.Fatalf("ParseParams(%q): a default but HasDefault false: %+v", src, p)
		}
		seen[p.Name] = true
	}
}

// readBack: a script file is read as its text is parsed, where the text
// is what ReadParams reads (no comment lines, no carriage returns, within
// its line bounds).
func readBack(t *testing.T, src string) {
	t.Helper()
	lines := strings.Split(src, "\n")
	if strings.Contains(src, "\r") || len(lines) > paramScanLines {
		return
	}
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "#") || len(l) > 64*1024 {
			return
		}
	}
	path := filepath.Join(t.TempDir(), "s.py")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	text := src
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if got, want := ReadParams(path), ParseParams(text); !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadParams of %q = %+v, ParseParams %+v", src, got, want)
	}
}

var fuzzTypes = []string{"str", "int", "float", "bool"}

// declaration writes one parameter as a script declares it, upstream's
// way or argparse's, and returns the Param it declares (nameless when the
// name cannot be a flag).
func declaration(name string, typ uint8, def, help string, argparse bool) (string, Param) {
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return -1
	}, name)
	name = strings.TrimLeft(name, "-")
	// Control characters other than tab and newline have no escape the
	// parser reads.
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
				return -1
			}
			return r
		}, s)
	}
	def, help = clean(def), clean(help)
	if name == "" {
		return "", Param{}
	}
	tp := fuzzTypes[int(typ)%len(fuzzTypes)]
	p := Param{Name: name, Flag: "--" + name, Type: tp, Default: def, HasDefault: true}
	if !argparse {
		return "main._script_args = [" + pyString("--"+name+":"+tp+":"+def) + ", '--no-type']\n", p
	}
	p.Help = help
	decl := "parser.add_argument(" + pyString("--"+name) + ", type=" + tp + ", default=" + pyString(def)
	if help != "" {
		decl += ",\n    help=" + pyString(help)
	}
	return "import argparse\n" + decl + ")\n", p
}

// pyString is s as a Python string literal.
func pyString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\t", `\t`)
	return "'" + r.Replace(s) + "'"
}
