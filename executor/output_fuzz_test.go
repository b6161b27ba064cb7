package executor

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// FuzzMarkers: the marker scanner fed output in any chunks finds the
// markers it finds in the output fed whole, and counts the same lines.
func FuzzMarkers(f *testing.F) {
	f.Add("start\nSCRIPT_SUCCESS:true\nnoise SCRIPT_SUCCESS:false here\nUploaded script report: k/r.html\nlogs_url: https://l/x\nSCRIPT_RESULT_ID:abc", []byte{3, 0, 5, 1, 17})
	f.Add("report_url: https://r\r\nLogs uploaded: https://l\nSCRIPT_SUCCESS:tr"+"ue", []byte{1})
	f.Add(strings.Repeat("y", markerScanBytes-3)+"SCRIPT_SUCCESS:true\n"+strings.Repeat("z", 100)+"\nSCRIPT_SUCCESS:false", []byte{200, 255, 7})
	f.Add("x: SCRIPT_RESULT_ID:1 _url: report: uploaded:\n", []byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Fuzz(func(t *testing.T, out string, cuts []byte) {
		// Long lines come from repeating the input, so that a short input
		// can reach the scan bound.
		if len(out) > 0 && len(cuts) > 0 && cuts[0] == 0xff {
			out = strings.Repeat(out, markerScanBytes/len(out)+2)
		}
		whole := &markerScanner{publicURL: "https://pub/"}
		whole.Write([]byte(out))
		want := whole.finish()
		s := &markerScanner{publicURL: "https://pub/"}
		rest := out
		for i := 0; len(rest) > 0; i++ {
			k := 1
			if len(cuts) > 0 {
				k = int(cuts[i%len(cuts)]) + 1
				if cuts[i%len(cuts)] == 0xff {
					k = len(rest)/2 + 1
				}
			}
			k = min(k, len(rest))
			s.Write([]byte(rest[:k]))
			rest = rest[k:]
		}
		if got := s.finish(); !reflect.DeepEqual(got, want) {
			t.Fatalf("in chunks %v: %s\nwhole: %s", cuts, show(got), show(want))
		}
	})
}

func show(m Markers) string {
	s := "nil"
	if m.Success != nil {
		s = fmt.Sprint(*m.Success)
	}
	return fmt.Sprintf("success %s, result %q, report %q, logs %q, lines %d", s, m.ResultID, m.ReportURL, m.LogsURL, m.Lines)
}

// FuzzPrefixWriter: the prefixed terminal output of any output in any
// chunks is what a line-by-line reference writes: the prefix at the start
// of every line but vpt's own notes (recognised within the chunk that
// starts them), the bytes as they are.
func FuzzPrefixWriter(f *testing.F) {
	f.Add("a\nbb\n\nccc", []byte{1, 2, 3})
	f.Add("line 000001 of a script's output, short\nline 000002\n[vpt] note\n[x] not one\n", []byte{0, 7, 8, 9, 255})
	f.Add(strings.Repeat("0123456789abcdef", 40)+"\n\n\n"+strings.Repeat("z", 70), []byte{15, 16, 17, 33})
	f.Fuzz(func(t *testing.T, out string, cuts []byte) {
		if len(out) > 0 && len(cuts) > 0 && cuts[0] == 0xff {
			out = strings.Repeat(out, (256<<10)/len(out)+2) // past a chunk
		}
		var got, want bytes.Buffer
		p := newPrefixWriter(&got, "[script] ")
		ref := &referencePrefixer{w: &want, prefix: "[script] ", atLineStart: true}
		rest := out
		for i := 0; len(rest) > 0; i++ {
			k := len(rest)
			if len(cuts) > 0 && cuts[i%len(cuts)] != 0xff {
				k = min(int(cuts[i%len(cuts)])+1, len(rest))
			}
			p.Write([]byte(rest[:k]))
			ref.write(rest[:k])
			rest = rest[k:]
		}
		p.Flush()
		if got.String() != want.String() {
			t.Fatalf("in chunks %v:\n got %q\nwant %q", cuts, clip(got.String()), clip(want.String()))
		}
	})
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// referencePrefixer is the prefixing, a line at a time.
type referencePrefixer struct {
	w           *bytes.Buffer
	prefix      string
	atLineStart bool
}

func (r *referencePrefixer) write(chunk string) {
	for len(chunk) > 0 {
		if r.atLineStart && !strings.HasPrefix(chunk, notePrefix) {
			r.w.WriteString(r.prefix)
		}
		line, rest, found := strings.Cut(chunk, "\n")
		r.w.WriteString(line)
		if found {
			r.w.WriteByte('\n')
		}
		r.atLineStart, chunk = found, rest
	}
}
