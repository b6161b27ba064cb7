package executor

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/vpt-dev/vpt/internal/lazyre"
)

// Param is a parameter a script declares, read from its source: upstream's
// `_script_args = ['--name:type:default', …]` list, or argparse
// `add_argument(…)` calls.
type Param struct {
	Name       string `json:"name"` // without dashes: "max-iteration"
	Flag       string `json:"flag"` // as given on the command line: "--max-iteration"
	Type       string `json:"type"` // str, int, float, bool
	Default    string `json:"default,omitempty"`
	HasDefault bool   `json:"has_default"`
	Help       string `json:"help,omitempty"`
	Required   bool   `json:"required,omitempty"`
	Positional bool   `json:"positional,omitempty"`
	// Choices are the values argparse's choices= allows (none: any).
	Choices []string `json:"choices,omitempty"`
}

// paramScanLines bounds how much of a script is read for declarations, as
// upstream (first 300 lines).
const paramScanLines = 300

var (
	scriptArgsRe  = lazyre.New(`_script_args\s*=\s*\[`)
	stringLitRe   = lazyre.New(`'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"`)
	addArgumentRe = lazyre.New(`\.add_argument\s*\(`)
	kwargRe       = lazyre.New(`(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[\w.\-+]+)`)
	kwStartRe     = lazyre.New(`\b[A-Za-z_]\w*\s*=`)
	choicesRe     = lazyre.New(`\bchoices\s*=\s*[\[(]`)
	numberLitRe   = lazyre.New(`^[-+]?[0-9][0-9_]*(\.[0-9]*)?$`)
)

// ReadParams reads the parameters a script declares. A script that declares
// none, or cannot be read, has none; declarations that cannot be parsed are
// skipped as upstream does.
func ReadParams(path string) []Param {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 0; n < paramScanLines && sc.Scan(); n++ {
		line := sc.Text()
		// Drop comments (a '#' outside strings is rare enough in
		// declarations to cut naively only at line start).
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return ParseParams(b.String())
}

// ParseParams parses declarations from script source text.
func ParseParams(src string) []Param {
	var out []Param
	seen := map[string]bool{}
	add := func(p Param) {
		if p.Name == "" || seen[p.Name] {
			return
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	for _, loc := range scriptArgsRe().FindAllStringIndex(src, -1) {
		body, ok := balanced(src[loc[1]-1:], '[', ']')
		if !ok {
			continue
		}
		for _, lit := range stringLitRe().FindAllStringSubmatch(body, -1) {
			spec := unquote(lit)
			parts := strings.SplitN(spec, ":", 3)
			if len(parts) != 3 || !strings.HasPrefix(parts[0], "-") {
				continue
			}
			add(Param{Name: strings.TrimLeft(parts[0], "-"), Flag: parts[0], Type: normType(parts[1]),
				Default: parts[2], HasDefault: true})
		}
	}
	for _, loc := range addArgumentRe().FindAllStringIndex(src, -1) {
		body, ok := balanced(src[loc[1]-1:], '(', ')')
		if !ok {
			continue
		}
		if p, ok := parseAddArgument(body); ok {
			add(p)
		}
	}
	return out
}

func parseAddArgument(body string) (Param, bool) {
	// Positional string literals before the first keyword are the names.
	firstKw := len(body)
	if m := kwStartRe().FindStringIndex(maskStrings(body)); m != nil {
		firstKw = m[0]
	}
	var names []string
	for _, lit := range stringLitRe().FindAllStringSubmatch(body[:firstKw], -1) {
		names = append(names, unquote(lit))
	}
	if len(names) == 0 {
		return Param{}, false
	}
	p := Param{Type: "str"}
	for _, n := range names {
		if strings.HasPrefix(n, "--") {
			p.Flag = n
			break
		}
	}
	if p.Flag == "" {
		if strings.HasPrefix(names[0], "-") {
			p.Flag = names[0]
		} else {
			p.Positional = true
			p.Required = true
			p.Flag = names[0]
		}
	}
	// An empty name, or dashes alone, is no argument argparse would take.
	if p.Name = strings.TrimLeft(p.Flag, "-"); p.Name == "" {
		return Param{}, false
	}
	p.Choices = parseChoices(body[firstKw:])
	// Keywords are found in the text with its strings blanked (help="x=1"
	// holds none), their values read from the text itself.
	kwargs := body[firstKw:]
	for _, m := range kwargRe().FindAllStringSubmatchIndex(maskStrings(kwargs), -1) {
		key, val := kwargs[m[2]:m[3]], kwargs[m[4]:m[5]]
		sval := val
		if strings.HasPrefix(val, "'") || strings.HasPrefix(val, `"`) {
			sval = unquoteLit(val)
		}
		switch key {
		case "type":
			p.Type = normType(val)
		case "default":
			p.Default, p.HasDefault = sval, true
			if val == "None" {
				p.Default, p.HasDefault = "", false
			}
		case "help":
			p.Help = sval
		case "required":
			p.Required = val == "True"
		case "action":
			if sval == "store_true" || sval == "store_false" {
				p.Type = "flag"
				if !p.HasDefault {
					p.Default, p.HasDefault = strconv.FormatBool(sval == "store_false"), true
				}
			}
		case "nargs":
			if sval == "?" || sval == "*" {
				p.Required = false
			}
		case "dest":
			p.Name = sval
		}
	}
	return p, true
}

// parseChoices reads choices=[...] or choices=(...) of literal strings
// and numbers; choices it cannot read (a variable, range()) are none, so
// no value is refused for them.
func parseChoices(kwargs string) []string {
	loc := choicesRe().FindStringIndex(kwargs)
	if loc == nil {
		return nil
	}
	open := kwargs[loc[1]-1]
	close := byte(']')
	if open == '(' {
		close = ')'
	}
	body, ok := balanced(kwargs[loc[1]-1:], open, close)
	if !ok {
		return nil
	}
	var out []string
	for _, item := range splitItems(body) {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
		case numberLitRe().MatchString(item):
			out = append(out, strings.ReplaceAll(item, "_", ""))
		default:
			m := stringLitRe().FindStringSubmatch(item)
			if m == nil || m[0] != item {
				return nil
			}
			out = append(out, unquote(m))
		}
	}
	return out
}

// maskStrings blanks the text inside string literals, keeping every
// offset, so that what looks like code inside them is not taken for code.
func maskStrings(s string) string {
	b := []byte(s)
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0 && c == '\\' && i+1 < len(b):
			b[i], b[i+1] = ' ', ' '
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			b[i] = ' '
		case c == '\'' || c == '"':
			quote = c
		}
	}
	return string(b)
}

// splitItems splits a list's text at the commas outside string literals.
func splitItems(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"':
			quote = c
		case c == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func normType(t string) string {
	switch strings.TrimSpace(t) {
	case "int":
		return "int"
	case "float":
		return "float"
	case "bool", "str_to_bool":
		return "bool"
	default:
		return "str"
	}
}

// balanced returns the text between an opening bracket at s[0] and its
// match, skipping brackets inside string literals.
func balanced(s string, open, close byte) (string, bool) {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return s[1:i], true
			}
		}
	}
	return "", false
}

func unquote(m []string) string {
	if m[1] != "" || strings.HasPrefix(m[0], "'") {
		return unescape(m[1])
	}
	return unescape(m[2])
}

func unquoteLit(s string) string {
	if len(s) >= 2 {
		return unescape(s[1 : len(s)-1])
	}
	return s
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	r := strings.NewReplacer(`\'`, `'`, `\"`, `"`, `\\`, `\`, `\n`, "\n", `\t`, "\t")
	return r.Replace(s)
}

// CheckValue reports whether v is a valid value for a parameter of type t.
func CheckValue(t, v string) bool {
	switch t {
	case "int":
		return isPythonInt(v)
	case "float":
		// Python's float takes what overflows Go's (1e400 is inf).
		_, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil || errors.Is(err, strconv.ErrRange)
	case "bool":
		switch strings.ToLower(v) {
		case "yes", "true", "t", "y", "1", "no", "false", "f", "n", "0":
			return true
		}
		return false
	}
	return true
}

// isPythonInt tells whether Python's int() takes v: a sign, then digits
// of any length, single underscores between them, spaces around.
func isPythonInt(v string) bool {
	v = strings.TrimSpace(v)
	if v != "" && (v[0] == '+' || v[0] == '-') {
		v = v[1:]
	}
	if v == "" || v[0] == '_' || v[len(v)-1] == '_' || strings.Contains(v, "__") {
		return false
	}
	return strings.Trim(v, "0123456789_") == ""
}
