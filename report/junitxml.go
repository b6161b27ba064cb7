package report

import (
	"strconv"
	"unicode/utf8"

	"github.com/vpt-dev/vpt/internal/parallel"
)

// The JUnit document is written by hand, byte for byte as
// xml.MarshalIndent(doc, "", "  ") writes it (junitxml_test.go holds the
// two to each other): encoding/xml's reflection took half of writing a
// 10,000-entry campaign's junit.xml.

// xmlDoc appends indented elements, as xml.MarshalIndent does: a start
// tag on a line of its own, an end tag on its own line only after child
// elements, text inline.
type xmlDoc struct {
	b     []byte
	depth int
	// inner: the element just opened has children (elements) so far.
	inner   []bool
	started bool
}

func (d *xmlDoc) open(name string, attrs ...string) {
	if len(d.inner) > 0 {
		d.inner[len(d.inner)-1] = true
	}
	if d.started {
		d.newline()
	}
	d.started = true
	d.b = append(d.b, '<')
	d.b = append(d.b, name...)
	for i := 0; i+1 < len(attrs); i += 2 {
		d.b = append(d.b, ' ')
		d.b = append(d.b, attrs[i]...)
		d.b = append(d.b, `="`...)
		d.b = xmlEscape(d.b, attrs[i+1])
		d.b = append(d.b, '"')
	}
	d.b = append(d.b, '>')
	d.inner = append(d.inner, false)
	d.depth++
}

func (d *xmlDoc) text(s string) { d.b = xmlEscape(d.b, s) }

func (d *xmlDoc) close(name string) {
	d.depth--
	if d.inner[len(d.inner)-1] {
		d.newline()
	}
	d.inner = d.inner[:len(d.inner)-1]
	d.b = append(d.b, "</"...)
	d.b = append(d.b, name...)
	d.b = append(d.b, '>')
}

func (d *xmlDoc) newline() {
	d.b = append(d.b, '\n')
	for range d.depth {
		d.b = append(d.b, "  "...)
	}
}

// element writes <name attrs>text</name>.
func (d *xmlDoc) element(name, text string, attrs ...string) {
	d.open(name, attrs...)
	d.text(text)
	d.close(name)
}

// optional adds name="value" to attrs when value is not empty (the
// omitempty of an attribute).
func optional(attrs []string, name, value string) []string {
	if value == "" {
		return attrs
	}
	return append(attrs, name, value)
}

func (s *junitSuites) appendXML(b []byte) []byte {
	d := xmlDoc{b: b}
	d.open("testsuites", s.attrs()...)
	for i := range s.Suites {
		s.Suites[i].write(&d)
	}
	d.close("testsuites")
	return d.b
}

func (c junitCounts) attrs() []string {
	return []string{"name", c.Name, "tests", itoa(c.Tests), "failures", itoa(c.Failures),
		"errors", itoa(c.Errors), "skipped", itoa(c.Skipped), "time", c.Time}
}

func (s *junitSuite) write(d *xmlDoc) {
	attrs := optional(s.attrs(), "timestamp", s.Timestamp)
	d.open("testsuite", optional(attrs, "hostname", s.Hostname)...)
	s.Properties.write(d)
	writeCases(d, s.Cases)
	d.close("testsuite")
}

// writeCases writes the cases on every core, each range into a document
// of its own at d's depth, joined in order: the same bytes as writing
// them one after another.
func writeCases(d *xmlDoc, cases []*junitTestCase) {
	var parts [][]byte // parts[lo] is the range that starts at lo
	if len(cases) > 0 {
		parts = make([][]byte, len(cases))
	}
	parallel.Chunks(len(cases), func(lo, hi int) {
		size := 0
		for _, c := range cases[lo:hi] {
			size += c.sizeHint()
		}
		part := xmlDoc{b: make([]byte, 0, size), depth: d.depth, started: d.started, inner: make([]bool, len(d.inner))}
		for _, c := range cases[lo:hi] {
			c.write(&part)
		}
		parts[lo] = part.b
	})
	for _, p := range parts {
		d.b = append(d.b, p...)
	}
	if len(cases) > 0 {
		d.started = true
		d.inner[len(d.inner)-1] = true
	}
}

func (p *junitProps) write(d *xmlDoc) {
	if p == nil {
		return
	}
	d.open("properties")
	for _, prop := range p.Props {
		d.element("property", "", "name", prop.Name, "value", prop.Value)
	}
	d.close("properties")
}

// sizeHint is about the length of the case's XML, a little more.
func (c *junitTestCase) sizeHint() int { return len(c.SystemOut) + len(c.SystemOut)/8 + 512 }

func (c *junitTestCase) write(d *xmlDoc) {
	d.open("testcase", append(optional([]string{"name", c.Name, "classname", c.Classname}, "file", c.File), "time", c.Time)...)
	c.Properties.write(d)
	writeProblem(d, "failure", c.Failure)
	writeProblem(d, "error", c.Error)
	if c.Skipped != nil {
		d.element("skipped", "", "message", c.Skipped.Message)
	}
	writeProblems(d, "flakyFailure", c.FlakyFailure)
	writeProblems(d, "flakyError", c.FlakyError)
	writeProblems(d, "rerunFailure", c.RerunFailure)
	writeProblems(d, "rerunError", c.RerunError)
	if c.SystemOut != "" {
		d.element("system-out", c.SystemOut)
	}
	d.close("testcase")
}

func writeProblem(d *xmlDoc, name string, p *junitProblem) {
	if p != nil {
		d.element(name, p.Text, "message", p.Message, "type", p.Type)
	}
}

func writeProblems(d *xmlDoc, name string, list []junitProblem) {
	for i := range list {
		writeProblem(d, name, &list[i])
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// xmlEscape appends s escaped as encoding/xml escapes text and
// attributes: the five markup characters, tab, newline and carriage
// return as references, and what XML cannot hold as U+FFFD.
func xmlEscape(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\'' && c != '&' && c != '<' && c != '>' {
			i++
			continue
		}
		r, width := rune(c), 1
		if c >= utf8.RuneSelf {
			r, width = utf8.DecodeRuneInString(s[i:])
		}
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			if inXMLRange(r) && !(r == utf8.RuneError && width == 1) {
				i += width
				continue
			}
			esc = "\uFFFD"
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		i += width
		last = i
	}
	return append(b, s[last:]...)
}

// inXMLRange: the characters XML 1.0 allows.
func inXMLRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
