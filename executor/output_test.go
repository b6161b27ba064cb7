package executor

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	tail := NewTail(10)
	tail.Write([]byte("hello"))
	if got := string(tail.Bytes()); got != "hello" || tail.Truncated() {
		t.Fatalf("got %q", got)
	}
	tail.Write([]byte(" world!"))
	if got := string(tail.Bytes()); got != "llo world!" {
		t.Fatalf("got %q", got)
	}
	tail.Write([]byte(strings.Repeat("a", 25) + "0123456789"))
	if got := string(tail.Bytes()); got != "0123456789" || !tail.Truncated() {
		t.Fatalf("got %q", got)
	}
	for _, chunk := range []string{"ab", "cde", "fghij", "k"} {
		tail.Write([]byte(chunk))
	}
	if got := string(tail.Bytes()); got != "bcdefghijk" {
		t.Fatalf("got %q", got)
	}
	if tail.Total() != 5+7+35+11 {
		t.Fatalf("total %d", tail.Total())
	}
}

func TestPrefixWriterKeepsBytes(t *testing.T) {
	var out bytes.Buffer
	p := newPrefixWriter(&out, "[s] ")
	for _, chunk := range []string{"one\ntw", "o\n", "\rprogress 1\rprogress 2", "\nbad \xff\n"} {
		p.Write([]byte(chunk))
	}
	p.Flush()
	want := "[s] one\n[s] two\n[s] \rprogress 1\rprogress 2\n[s] bad \xff\n"
	if out.String() != want {
		t.Fatalf("got %q\nwant %q", out.String(), want)
	}
}

func TestMarkers(t *testing.T) {
	s := &markerScanner{publicURL: "https://pub.example.r2.dev/"}
	for _, chunk := range []string{
		"start\nSCRIPT_SUCCESS:tr", "ue\n", "noise SCRIPT_SUCCESS:false here\n",
		"[@cloudflare_utils:upload_script_report] INFO: Uploaded script report: script-reports/virtual/goto_1/report.html\n",
		"logs_url: https://logs.example/x.txt\n", strings.Repeat("y", 20000) + " SCRIPT_SUCCESS:true\n", "SCRIPT_RESULT_ID:abc-123",
	} {
		s.Write([]byte(chunk))
	}
	m := s.finish()
	if m.Success == nil || *m.Success {
		t.Fatalf("last marker should be false (markers deep in a 20 KB line are not read): %v", m.Success)
	}
	if m.ReportURL != "https://pub.example.r2.dev/script-reports/virtual/goto_1/report.html" {
		t.Fatalf("report url %q", m.ReportURL)
	}
	if m.LogsURL != "https://logs.example/x.txt" || m.ResultID != "abc-123" || m.Lines != 7 {
		t.Fatalf("markers %+v", m)
	}
}

func TestReportURLLineWins(t *testing.T) {
	s := &markerScanner{publicURL: "https://pub"}
	s.Write([]byte("report_url: https://signed.example/r.html?X-Amz=1\nUploaded script report: k/report.html\n"))
	if m := s.finish(); m.ReportURL != "https://signed.example/r.html?X-Amz=1" {
		t.Fatalf("got %q", m.ReportURL)
	}
}

// Markers are found whatever the chunks cut them into.
func TestMarkersAcrossChunks(t *testing.T) {
	text := "noise\n" + strings.Repeat("x", 100) + "\nSCRIPT_SUCCESS:false\nmore noise\nlogs_url: https://l/x\nend\n"
	for size := 1; size <= 40; size++ {
		s := &markerScanner{}
		for i := 0; i < len(text); i += size {
			s.Write([]byte(text[i:min(len(text), i+size)]))
		}
		m := s.finish()
		if m.Success == nil || *m.Success || m.LogsURL != "https://l/x" || m.Lines != 6 {
			t.Fatalf("chunks of %d: %+v", size, m)
		}
	}
}

// A SCRIPT_SUCCESS:false past the first markerScanBytes of its line was
// not seen: the run passed. It fails the run wherever it stands in the
// line, in whatever chunks the line comes, the marker cut between them.
func TestMarkerPastTheStartOfALongLine(t *testing.T) {
	for _, c := range []struct {
		text string
		want string // "": no marker
	}{
		{`{"log": "` + strings.Repeat("y", 8200) + `"} SCRIPT_SUCCESS:false` + "\n", "false"},
		{strings.Repeat("x", 9000) + " SCRIPT_SUCCESS:false", "false"},
		{strings.Repeat("x", markerScanBytes-8) + "SCRIPT_SUCCESS:  false and more\n", "false"},
		{strings.Repeat("x", 20000) + " SCRIPT_SUCCESS:true\n" + strings.Repeat("z", 9000) + "SCRIPT_SUCCESS:False\n", "false"},
		{strings.Repeat("x", 20000) + " SCRIPT_SUCCESS:true\n", "true"},
		{strings.Repeat("x", 20000) + " SCRIPT_SUCCESS:falsey SCRIPT_SUCCESS:\n", ""},
	} {
		for _, size := range []int{1, 7, 15, 16, 4096, 1 << 20} {
			s := &markerScanner{}
			for i := 0; i < len(c.text); i += size {
				s.Write([]byte(c.text[i:min(len(c.text), i+size)]))
			}
			got := ""
			if m := s.finish(); m.Success != nil {
				got = strconv.FormatBool(*m.Success)
			}
			if got != c.want {
				t.Fatalf("%q… in chunks of %d: success %q, want %q", c.text[len(c.text)-40:], size, got, c.want)
			}
		}
	}
}

func TestPrefixWriterChunks(t *testing.T) {
	text := "a\nbb\n\nccc"
	for size := 1; size <= len(text); size++ {
		var out bytes.Buffer
		p := newPrefixWriter(&out, "> ")
		for i := 0; i < len(text); i += size {
			p.Write([]byte(text[i:min(len(text), i+size)]))
		}
		p.Flush()
		if out.String() != "> a\n> bb\n> \n> ccc" {
			t.Fatalf("chunks of %d: %q", size, out.String())
		}
	}
}

// vpt's own lines keep no script prefix, whole-lines mode included.
func TestPrefixWriterNotes(t *testing.T) {
	text := "a\n[vpt] note\nb [vpt] not a note\n"
	want := "> a\n[vpt] note\n> b [vpt] not a note\n"
	for _, whole := range []bool{false, true} {
		var out bytes.Buffer
		p := newPrefixWriter(&out, "> ")
		p.whole = whole
		p.Write([]byte(text))
		p.Flush()
		if out.String() != want {
			t.Fatalf("whole %v: %q", whole, out.String())
		}
	}
}
