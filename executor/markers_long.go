package executor

import "bytes"

// A SCRIPT_SUCCESS:false fails the run however long its line is. The
// marker scanner keeps the first markerScanBytes of a line; past them,
// each "SCRIPT_SUCCESS:" is judged on the candBytes that follow it, which
// is all that is kept of it, so the verdict is the same whatever chunks
// the output arrives in.

var successLit = []byte("SCRIPT_SUCCESS:")

// candBytes is how much after "SCRIPT_SUCCESS:" a marker past the kept
// start of a line is judged on: its blanks and its word.
const candBytes = 48

// longLine is the marker state of a line past its kept start.
type longLine struct {
	tail  []byte   // the last bytes so far, for a marker cut between chunks
	cands [][]byte // what follows each "SCRIPT_SUCCESS:" not judged yet
}

// begin starts the part past kept, the line's kept start, whose last
// markers may want bytes of what follows.
func (l *longLine) begin(kept []byte) {
	for off := max(0, len(kept)-len(successLit)-candBytes); ; {
		i := bytes.Index(kept[off:], successLit)
		if i < 0 {
			break
		}
		off += i + len(successLit)
		if rest := kept[off:]; len(rest) < candBytes {
			l.cands = append(l.cands, append([]byte(nil), rest...))
		}
	}
	l.tail = append(l.tail[:0], kept[max(0, len(kept)-len(successLit)+1):]...)
}

// past reads p, the next bytes of the line (no newline). scan says p may
// hold a whole "SCRIPT_SUCCESS:"; without it only a marker cut between
// chunks is looked for.
func (l *longLine) past(p []byte, scan bool, judge func([]byte)) {
	kept := l.cands[:0]
	for _, c := range l.cands {
		if c = append(c, p[:min(len(p), candBytes-len(c))]...); len(c) == candBytes {
			judge(c)
		} else {
			kept = append(kept, c)
		}
	}
	l.cands = kept
	// Neither the tail nor the head can hold all of it: one found here
	// is cut between them.
	var buf [32]byte
	joined := append(append(buf[:0], l.tail...), p[:min(len(p), len(successLit)-1)]...)
	if i := bytes.Index(joined, successLit); i >= 0 {
		l.start(p[i+len(successLit)-len(l.tail):], judge)
	}
	for off := 0; scan; {
		i := bytes.Index(p[off:], successLit)
		if i < 0 {
			break
		}
		off += i + len(successLit)
		l.start(p[off:], judge)
	}
	if len(p) >= len(successLit)-1 {
		l.tail = append(l.tail[:0], p[len(p)-len(successLit)+1:]...)
	} else {
		l.tail = append(l.tail, p...)
		l.tail = l.tail[max(0, len(l.tail)-len(successLit)+1):]
	}
}

func (l *longLine) start(rest []byte, judge func([]byte)) {
	if len(rest) >= candBytes {
		judge(rest[:candBytes])
		return
	}
	l.cands = append(l.cands, append([]byte(nil), rest...))
}

// end judges what the markers not judged yet hold at the line's end.
func (l *longLine) end(judge func([]byte)) {
	for _, c := range l.cands {
		judge(c)
	}
	l.cands, l.tail = l.cands[:0], l.tail[:0]
}
