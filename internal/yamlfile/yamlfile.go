// Package yamlfile decodes the YAML files people write for vpt (vpt.yaml,
// userinterfaces, campaigns) strictly, and reports every problem with its
// file, line, column and field: unknown keys with the closest known key,
// values of the wrong type, files that are not text or expand too much.
package yamlfile

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vpt-dev/vpt/internal/lazyre"
	"gopkg.in/yaml.v3"
)

// ErrEmpty marks the problem of a file with no document (only comments).
var ErrEmpty = errors.New("the file holds no settings")

// Empty reports whether the problems are only that the file is empty.
func Empty(err error) bool {
	var ps Problems
	return errors.As(err, &ps) && len(ps) == 1 && ps[0].Hint == ErrEmpty.Error()
}

// MaxFileSize bounds the files read; hand-written YAML is far smaller.
const MaxFileSize = 4 << 20

// maxNodes bounds the nodes visited, aliases expanded: a few anchors can
// otherwise expand into billions of nodes.
const maxNodes = 200_000

// Problem is one thing wrong with a file.
type Problem struct {
	File  string
	Line  int
	Col   int
	Field string // dotted path: script_configurations[2].parameters
	Msg   string
	Hint  string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString(" (" + p.Hint + ")")
	}
	return b.String()
}

// Problems is every problem found in a file; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when empty.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// ReadFile reads a file that must be reasonable text: not a directory, not
// huge, valid UTF-8, no NUL bytes.
func ReadFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, Problems{{File: path, Msg: "is a directory, not a file"}}
	}
	if st.Size() > MaxFileSize {
		return nil, Problems{{File: path, Msg: fmt.Sprintf("is %s, more than the %s a hand-written file can be", size(st.Size()), size(MaxFileSize))}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return data, CheckText(path, data)
}

// CheckText rejects binary data and invalid UTF-8 with the position of the
// first bad byte.
func CheckText(file string, data []byte) error {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, col := position(data, i)
		return Problems{{File: file, Line: line, Col: col, Msg: "is binary, not YAML text (NUL byte)"}}
	}
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		line, col := position(data, i)
		return Problems{{File: file, Line: line, Col: col, Msg: "is not valid UTF-8 text", Hint: "save the file as UTF-8"}}
	}
	return nil
}

func position(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Decode parses data, checks it against the shape of v (keys, types) and
// decodes it into v. It returns the document's root node (for positions of
// later, semantic checks) and Problems for everything wrong. An empty
// document is a problem.
func Decode(file string, data []byte, v any) (*yaml.Node, error) {
	if err := CheckText(file, data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, parseProblem(file, data, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, Problems{{File: file, Msg: "is empty", Hint: ErrEmpty.Error()}}
	}
	root := doc.Content[0]
	c := &checker{file: file}
	c.check(root, reflect.TypeOf(v).Elem(), "")
	if len(c.problems) > 0 {
		return root, c.problems
	}
	if err := root.Decode(v); err != nil {
		return root, decodeProblem(file, root, err)
	}
	return root, nil
}

func syntaxProblem(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: file, Msg: msg}
	// "line 3: mapping values are not allowed in this context"
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if n, err := strconv.Atoi(num); err == nil {
				p.Line, p.Msg = n, strings.TrimSpace(tail)
			}
		}
	}
	if strings.Contains(msg, "excessive aliasing") {
		p.Msg = "expands too much through anchors and aliases"
	}
	return Problems{p}
}

// parseProblem is the problem of a file yaml.v3 cannot parse, always at a
// line: yaml.v3 names none for a problem on the first line (its marks count
// from 0 and it prints only non-zero ones) nor for an alias of an anchor
// that does not exist.
func parseProblem(file string, data []byte, err error) error {
	ps := syntaxProblem(file, err).(Problems)
	if ps[0].Line == 0 {
		ps[0].Line, ps[0].Col = 1, 0
		if m := unknownAnchorRe().FindStringSubmatch(ps[0].Msg); m != nil {
			if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
				ps[0].Line, ps[0].Col = position(data, i)
			}
		}
	}
	return ps
}

var (
	unknownAnchorRe = lazyre.New(`^unknown anchor '(.*)' referenced$`)
	selfAnchorRe    = lazyre.New(`^anchor '(.*)' value contains itself$`)
)

// decodeProblem is a problem yaml.v3 finds decoding a document the checks
// passed. Those it names no line for are placed at the node they are about
// (an anchor holding an alias of itself, a merge of something that is not a
// mapping, a !!binary value that is not base64) or else at the start of the
// document.
func decodeProblem(file string, root *yaml.Node, err error) error {
	var ps Problems
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			ps = append(ps, syntaxProblem(file, errors.New(e)).(Problems)[0])
		}
	} else {
		ps = syntaxProblem(file, err).(Problems)
	}
	for i, p := range ps {
		if p.Line != 0 {
			continue
		}
		at := root
		if m := selfAnchorRe().FindStringSubmatch(p.Msg); m != nil {
			at = findNode(root, func(n *yaml.Node) bool { return n.Anchor == m[1] }, at)
		} else if strings.HasPrefix(p.Msg, "map merge requires") {
			at = findNode(root, badMerge, at)
		} else if strings.Contains(p.Msg, "!!binary") {
			at = findNode(root, func(n *yaml.Node) bool {
				_, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
				return n.Kind == yaml.ScalarNode && n.Tag == "!!binary" && err != nil
			}, at)
		}
		ps[i].Line, ps[i].Col = at.Line, at.Column
	}
	return ps
}

// badMerge tells whether n merges (<<) something that is not a mapping.
func badMerge(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		v := n.Content[i+1]
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if n.Content[i].Value == "<<" && v.Kind != yaml.MappingNode && v.Kind != yaml.SequenceNode {
			return true
		}
	}
	return false
}

// findNode returns the first node under n (aliases not followed) that
// matches, or otherwise.
func findNode(n *yaml.Node, match func(*yaml.Node) bool, otherwise *yaml.Node) *yaml.Node {
	if match(n) {
		return n
	}
	for _, c := range n.Content {
		if f := findNode(c, match, nil); f != nil {
			return f
		}
	}
	return otherwise
}

type checker struct {
	file     string
	problems Problems
	visited  int
	tooBig   bool
}

var (
	durationType  = reflect.TypeOf(time.Duration(0))
	unmarshalType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

func (c *checker) add(n *yaml.Node, field, msg, hint string) {
	c.problems = append(c.problems, Problem{File: c.file, Line: n.Line, Col: n.Column, Field: field, Msg: msg, Hint: hint})
}

func (c *checker) check(n *yaml.Node, t reflect.Type, field string) {
	if c.tooBig {
		return
	}
	c.visited++
	if c.visited > maxNodes {
		c.tooBig = true
		c.add(n, field, "expands too much (anchors and aliases make it larger than any real file)", "")
		return
	}
	if n.Kind == yaml.AliasNode {
		c.check(n.Alias, t, field)
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalType) {
		// The type reads itself; still count what it would expand.
		c.walkAny(n)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			c.add(n, field, "expected a duration such as 30s or 5m, got "+kindName(n), "")
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			if _, ierr := strconv.Atoi(n.Value); ierr != nil || n.Value != "0" {
				c.add(n, field, fmt.Sprintf("expected a duration such as 30s or 5m, got %q", n.Value), "")
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(n, field, "expected a mapping of keys, got "+kindName(n), "")
			return
		}
		fields := structFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				// Merge key: check the merged mapping(s) as this struct.
				c.check(v, t, field)
				continue
			}
			sub := join(field, k.Value)
			if seen[k.Value] {
				c.add(k, sub, "appears twice", "")
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				ft, ok = fields["*"]
			}
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				sort.Strings(names)
				hint := ""
				if near := closestKey(k.Value, names); near != "" {
					hint = "did you mean " + near + "?"
				} else {
					hint = "known keys: " + strings.Join(names, ", ")
				}
				c.add(k, sub, "unknown key", hint)
				continue
			}
			c.check(v, ft, sub)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(n, field, "expected a mapping, got "+kindName(n), "")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.check(n.Content[i+1], t.Elem(), join(field, n.Content[i].Value))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			c.add(n, field, "expected a list, got "+kindName(n), "")
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", field, i))
		}
	case reflect.Interface:
		c.walkAny(n)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.add(n, field, "expected text, got "+kindName(n), "")
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			c.add(n, field, "expected true or false, got "+describe(n), "")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			c.add(n, field, "expected a whole number, got "+describe(n), "")
		} else if t.Kind() >= reflect.Uint && strings.HasPrefix(n.Value, "-") {
			c.add(n, field, "expected a number of zero or more, got "+n.Value, "")
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			c.add(n, field, "expected a number, got "+describe(n), "")
		}
	}
}

// walkAny counts nodes of free-form values so that aliases cannot expand
// without bound there either.
func (c *checker) walkAny(n *yaml.Node) {
	if c.tooBig {
		return
	}
	c.visited++
	if c.visited > maxNodes {
		c.tooBig = true
		c.add(n, "", "expands too much (anchors and aliases make it larger than any real file)", "")
		return
	}
	if n.Kind == yaml.AliasNode {
		c.walkAny(n.Alias)
		return
	}
	for _, ch := range n.Content {
		c.walkAny(ch)
	}
}

func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			if f.Type.Kind() != reflect.Struct {
				out["*"] = f.Type.Elem()
				continue
			}
			for k, v := range structFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return describe(n)
}

func describe(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindName(n)
	}
	switch n.Tag {
	case "!!str":
		return strconv.Quote(n.Value)
	case "!!null":
		return "nothing"
	}
	return n.Value
}

// closestKey returns the known key nearest to k, or "".
func closestKey(k string, known []string) string {
	if near := Closest(k, known, 1); len(near) > 0 {
		return near[0]
	}
	return ""
}

// Closest returns up to n names near want, nearest first: within a small
// edit distance, or containing it. It makes "did you mean" hints.
func Closest(want string, names []string, n int) []string {
	type scored struct {
		name string
		d    int
	}
	var c []scored
	lw := strings.ToLower(want)
	limit := max(2, len(want)/3)
	for _, name := range names {
		ln := strings.ToLower(name)
		d := Distance(lw, ln)
		if d <= limit || len(lw) > 2 && strings.Contains(ln, lw) {
			c = append(c, scored{name, d})
		}
	}
	sort.SliceStable(c, func(i, j int) bool { return c[i].d < c[j].d })
	var out []string
	for i := 0; i < len(c) && i < n; i++ {
		out = append(out, c[i].name)
	}
	return out
}

// Distance is the edit distance between two strings, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Find returns the node at a path of mapping keys and sequence indexes
// under root ("script_configurations", 2, "parameters"), or nil.
func Find(root *yaml.Node, path ...any) *yaml.Node {
	n := root
	for _, p := range path {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return nil
		}
		switch k := p.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return nil
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
				}
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || k >= len(n.Content) {
				return nil
			}
			n = n.Content[k]
		}
	}
	return n
}

// At returns a problem placed at the node found by path (or the closest
// existing ancestor).
func At(file string, root *yaml.Node, field, msg, hint string, path ...any) Problem {
	p := Problem{File: file, Field: field, Msg: msg, Hint: hint}
	for i := len(path); i >= 0; i-- {
		if n := Find(root, path[:i]...); n != nil {
			p.Line, p.Col = n.Line, n.Column
			break
		}
	}
	return p
}
