package executor

import (
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
