package report

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Span is a run of log text with one style; the template escapes Text.
type Span struct {
	Text  string
	Class string // "" or space-separated classes: b, fg1…fg15, bg1…bg7
}

// LogLine is one line of the output tail.
type LogLine struct {
	Spans []Span
}

// ParseLog turns raw script output into lines of styled spans: ANSI colour
// sequences become classes, other escape sequences are dropped, a carriage
// return keeps only what the terminal would show (the last rewrite of a
// progress line), invalid UTF-8 is shown as U+FFFD.
func ParseLog(raw []byte) []LogLine {
	var lines []LogLine
	for _, line := range bytes.Split(raw, []byte{'\n'}) {
		if i := bytes.LastIndexByte(bytes.TrimRight(line, "\r"), '\r'); i >= 0 {
			line = line[i+1:]
		}
		line = bytes.TrimRight(line, "\r")
		lines = append(lines, parseLine(line))
	}
	if n := len(lines); n > 0 && len(lines[n-1].Spans) == 0 {
		lines = lines[:n-1]
	}
	return lines
}

func parseLine(b []byte) LogLine {
	var out LogLine
	var cur strings.Builder
	style := sgr{}
	flush := func() {
		if cur.Len() > 0 {
			out.Spans = append(out.Spans, Span{Text: cur.String(), Class: style.class()})
			cur.Reset()
		}
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c == 0x1b {
			// ESC [ params final
			if i+1 < len(b) && b[i+1] == '[' {
				j := i + 2
				for j < len(b) && (b[j] >= 0x30 && b[j] <= 0x3f || b[j] >= 0x20 && b[j] <= 0x2f) {
					j++
				}
				if j < len(b) {
					if b[j] == 'm' {
						flush()
						style.apply(string(b[i+2 : j]))
					}
					i = j + 1
					continue
				}
				i = len(b)
				continue
			}
			// ESC ] … BEL or ST (titles, hyperlinks): dropped.
			if i+1 < len(b) && b[i+1] == ']' {
				j := i + 2
				for j < len(b) && b[j] != 0x07 && !(b[j] == 0x1b && j+1 < len(b) && b[j+1] == '\\') {
					j++
				}
				if j < len(b) && b[j] == 0x1b {
					j++
				}
				i = j + 1
				continue
			}
			i += 2
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			cur.WriteRune('\uFFFD')
		case r == '\t' || r >= 0x20 && r != 0x7f:
			cur.WriteRune(r)
		}
		i += n
	}
	flush()
	return out
}

// StripANSI returns the text of output without escape sequences (for JUnit).
func StripANSI(raw []byte) string {
	var b strings.Builder
	for _, l := range ParseLog(raw) {
		for _, s := range l.Spans {
			b.WriteString(s.Text)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

type sgr struct {
	bold   bool
	fg, bg int // 0 = default, 1..16
}

func (s *sgr) apply(params string) {
	if params == "" {
		*s = sgr{}
		return
	}
	parts := strings.Split(params, ";")
	for i := 0; i < len(parts); i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			continue
		}
		switch {
		case n == 0:
			*s = sgr{}
		case n == 1:
			s.bold = true
		case n == 22:
			s.bold = false
		case n >= 30 && n <= 37:
			s.fg = n - 30 + 1
		case n >= 90 && n <= 97:
			s.fg = n - 90 + 9
		case n == 39:
			s.fg = 0
		case n >= 40 && n <= 47:
			s.bg = n - 40 + 1
		case n == 49:
			s.bg = 0
		case n == 38 || n == 48:
			// 256-colour and true-colour: skip their arguments.
			if i+1 < len(parts) && parts[i+1] == "5" {
				i += 2
			} else if i+1 < len(parts) && parts[i+1] == "2" {
				i += 4
			}
		}
	}
}

func (s sgr) class() string {
	var c []string
	if s.bold {
		c = append(c, "b")
	}
	if s.fg > 0 {
		c = append(c, "fg"+strconv.Itoa(s.fg))
	}
	if s.bg > 0 {
		c = append(c, "bg"+strconv.Itoa(s.bg))
	}
	return strings.Join(c, " ")
}
