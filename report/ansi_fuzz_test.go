package report

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vpt-dev/vpt/store"
)

// FuzzParseLog: the ANSI renderer never panics; its spans hold printable
// text and known classes only; the report shows them as escaped HTML whose
// text is the spans' text; colour sequences inserted anywhere in plain
// output change its styles, never its text.
func FuzzParseLog(f *testing.F) {
	f.Add(fixtureLog, []byte{3, 0, 9, 1, 22, 2})
	f.Add([]byte("a\x1b[31mb\x1b[39mc\x1b]0;title\x07d\x1b[2Ke\r\nx\ry\nlast"), []byte{0, 5, 1, 7})
	f.Add([]byte(xss+"\n\x1b[38;5;196mx\x1b[48;2;1;2;3my\x1b[1;22;97;107m\x1b"), []byte{1, 0, 4, 0x10, 3, 0xff})
	f.Add([]byte("tab\there \x7f\x00\x9b caf\xc3\xa9 \xe2\x82\n\n\r\n"), []byte{2, 1, 2, 1})
	f.Fuzz(func(t *testing.T, raw, seqs []byte) {
		checkRendered(t, raw)
		// Without escape sequences, the text is what a terminal shows.
		plain := bytes.ReplaceAll(raw, []byte{0x1b}, nil)
		if got, want := logText(ParseLog(plain)), visibleText(plain); got != want {
			t.Fatalf("ParseLog(%q) shows %q, want %q", plain, got, want)
		}
		// Sequences put into text without carriage returns (after one, a
		// sequence is the rewrite the line keeps) leave the text alone.
		plain = bytes.ReplaceAll(plain, []byte{'\r'}, nil)
		want := visibleText(plain)
		coloured := insertSequences(plain, seqs)
		checkRendered(t, coloured)
		if got := logText(ParseLog(coloured)); got != want {
			t.Fatalf("colour sequences changed the text: ParseLog(%q) shows %q, want %q", coloured, got, want)
		}
	})
}

// visibleText is what a terminal shows of output free of escape
// sequences: every line as its last rewrite (after its last carriage
// return but a trailing one), control characters but tabs dropped, invalid
// UTF-8 as U+FFFD; a last line showing nothing is no line.
func visibleText(b []byte) string {
	var lines []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		line = line[strings.LastIndexByte(line, '\r')+1:]
		var s strings.Builder
		for i := 0; i < len(line); {
			r, n := utf8.DecodeRuneInString(line[i:])
			switch {
			case r == utf8.RuneError && n <= 1:
				s.WriteRune(utf8.RuneError)
			case r == '\t' || r >= 0x20 && r != 0x7f:
				s.WriteRune(r)
			}
			i += n
		}
		lines = append(lines, s.String())
	}
	if n := len(lines); lines[n-1] == "" {
		lines = lines[:n-1]
	}
	return strings.Join(lines, "\n")
}

func logText(lines []LogLine) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		for _, s := range l.Spans {
			out[i] += s.Text
		}
	}
	return strings.Join(out, "\n")
}

// sequences are what programs print around their text: colours of every
// form, a reset, an erase, a window title ended either way.
var sequences = []string{"\x1b[%sm", "\x1b[0m", "\x1b[m", "\x1b[1;%sm", "\x1b[38;5;%sm", "\x1b[48;2;%s;0;0m", "\x1b[2K",
	"\x1b]0;%s\x07", "\x1b]8;;http://x/%s\x1b\\"}

// insertSequences puts escape sequences into plain text at character
// boundaries, two bytes of seqs a sequence: where (in characters from the
// previous one) and which, with a number drawn from the same byte.
func insertSequences(plain, seqs []byte) []byte {
	var out []byte
	i := 0
	for k := 0; k+1 < len(seqs); k += 2 {
		for skip := int(seqs[k]) % 8; skip > 0 && i < len(plain); skip-- {
			_, n := utf8.DecodeRune(plain[i:])
			out = append(out, plain[i:i+n]...)
			i += n
		}
		form := sequences[int(seqs[k+1])%len(sequences)]
		if strings.Contains(form, "%s") {
			form = fmt.Sprintf(form, strconv.Itoa(int(seqs[k+1])))
		}
		out = append(out, form...)
	}
	return append(out, plain[i:]...)
}

var (
	logSection = regexp.MustCompile(`(?s)<pre id="log" class="log-body color">(.*?)</pre>`)
	tagRe      = regexp.MustCompile(`^(?:<span class="([^"<>]*)">|</span>)`)
	entityRe   = regexp.MustCompile(`&(?:lt|gt|amp|quot|#39|#34|#43);`)
)

// checkRendered fails t unless the spans of raw are printable text with
// known classes and the run report shows exactly them, escaped.
func checkRendered(t *testing.T, raw []byte) {
	t.Helper()
	lines := ParseLog(raw)
	for _, l := range lines {
		for _, s := range l.Spans {
			if s.Text == "" || !utf8.ValidString(s.Text) || strings.ContainsFunc(s.Text, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				t.Fatalf("ParseLog(%q): span text %q", raw, s.Text)
			}
			if !validClass(s.Class) {
				t.Fatalf("ParseLog(%q): class %q", raw, s.Class)
			}
		}
	}
	var buf bytes.Buffer
	res := &store.Result{ID: "r", ScriptName: "s", Status: store.StatusPassed, StartedAt: t0}
	if err := RenderRun(&buf, res, raw, false); err != nil {
		t.Fatal(err)
	}
	m := logSection.FindSubmatch(buf.Bytes())
	if len(lines) == 0 {
		if m != nil || !bytes.Contains(buf.Bytes(), []byte("The script printed nothing.")) {
			t.Fatalf("no lines, yet the report shows a log")
		}
		return
	}
	if m == nil {
		t.Fatalf("ParseLog(%q) has %d lines; the report shows no log", raw, len(lines))
	}
	if got, want := spansOfHTML(t, string(m[1])), fmt.Sprint(merged(lines)); got != want {
		t.Fatalf("the report shows\n%s\nParseLog(%q) gives\n%s\nHTML:\n%s", got, raw, want, m[1])
	}
}

// validClass: b, fg1..fg16 and bg1..bg8 in that order, each at most once.
func validClass(c string) bool {
	if c == "" {
		return true
	}
	order := 0
	for _, f := range strings.Split(c, " ") {
		n, _ := strconv.Atoi(strings.TrimLeft(f, "bfg"))
		switch {
		case f == "b" && order < 1:
			order = 1
		case strings.HasPrefix(f, "fg") && n >= 1 && n <= 16 && f == "fg"+strconv.Itoa(n) && order < 2:
			order = 2
		case strings.HasPrefix(f, "bg") && n >= 1 && n <= 8 && f == "bg"+strconv.Itoa(n) && order < 3:
			order = 3
		default:
			return false
		}
	}
	return true
}

// spansOfHTML reads the log section of a report back into lines of spans
// (printed as ParseLog's are), failing t on any markup but the log's own
// spans and on any text that is not escaped.
func spansOfHTML(t *testing.T, s string) string {
	t.Helper()
	var lines []LogLine
	var cur *LogLine
	class, depth := "", 0
	for len(s) > 0 {
		if s[0] == '<' {
			m := tagRe.FindStringSubmatch(s)
			switch {
			case m == nil:
				t.Fatalf("unexpected markup at %q", s[:min(len(s), 40)])
			case m[0] == "</span>" && depth > 0:
				depth--
				if depth == 0 {
					lines = append(lines, *cur)
					if !strings.HasPrefix(s[len(m[0]):], "\n") {
						t.Fatalf("a line does not end with a newline: %q", s)
					}
					s = s[1:]
				}
			case depth == 0 && m[1] == "line":
				cur, depth = &LogLine{}, 1
			case depth == 1 && m[1] != "" && m[1] != "line":
				class, depth = m[1], 2
			default:
				t.Fatalf("span %q at depth %d", m[0], depth)
			}
			s = s[len(m[0]):]
			continue
		}
		end := strings.IndexByte(s, '<')
		if end < 0 {
			t.Fatalf("text outside the lines: %q", s)
		}
		text := s[:end]
		s = s[end:]
		if depth == 0 || strings.ContainsAny(entityRe.ReplaceAllString(text, ""), "<>&\"'") {
			t.Fatalf("unescaped or misplaced text %q (depth %d)", text, depth)
		}
		c := ""
		if depth == 2 {
			c = class
		}
		cur.Spans = append(cur.Spans, Span{Text: html.UnescapeString(text), Class: c})
	}
	if depth != 0 {
		t.Fatalf("unclosed span")
	}
	return fmt.Sprint(merged(lines))
}

// merged joins neighbouring spans of one class: the HTML cannot tell them
// apart.
func merged(lines []LogLine) []LogLine {
	out := make([]LogLine, len(lines))
	for i, l := range lines {
		for _, s := range l.Spans {
			if n := len(out[i].Spans); n > 0 && out[i].Spans[n-1].Class == s.Class {
				out[i].Spans[n-1].Text += s.Text
				continue
			}
			out[i].Spans = append(out[i].Spans, s)
		}
	}
	return out
}
