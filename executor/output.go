package executor

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/internal/lazyre"
	"github.com/vpt-dev/vpt/internal/secret"
)

// markerScanBytes bounds how much of each line is searched for upstream's
// marker lines; markers are short and sit near the start of their line.
const markerScanBytes = 8 * 1024

// Tail keeps the last N bytes written to it.
type Tail struct {
	mu    sync.Mutex
	buf   []byte
	start int // index of the oldest byte once full
	full  bool
	total int64
}

// NewTail returns a tail of n bytes.
func NewTail(n int) *Tail { return &Tail{buf: make([]byte, 0, n)} }

// Write keeps the end of p.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	t.total += int64(n)
	c := cap(t.buf)
	if len(p) >= c {
		t.buf = append(t.buf[:0], p[len(p)-c:]...)
		t.start, t.full = 0, true
		return n, nil
	}
	if !t.full {
		room := c - len(t.buf)
		if len(p) <= room {
			t.buf = append(t.buf, p...)
			return n, nil
		}
		t.buf = append(t.buf, p[:room]...)
		p = p[room:]
		t.full = true
		t.start = 0
	}
	for len(p) > 0 {
		k := copy(t.buf[t.start:], p)
		p = p[k:]
		t.start = (t.start + k) % c
	}
	return n, nil
}

// Bytes returns the kept bytes, oldest first.
func (t *Tail) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.full {
		return append([]byte(nil), t.buf...)
	}
	out := make([]byte, 0, len(t.buf))
	out = append(out, t.buf[t.start:]...)
	return append(out, t.buf[:t.start]...)
}

// Truncated reports whether output was dropped from the front.
func (t *Tail) Truncated() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total > int64(len(t.buf))
}

// Total is the number of bytes written.
func (t *Tail) Total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// prefixWriter writes lines to w with a prefix at the start of each line.
// Bytes pass through unchanged: very long lines, invalid UTF-8 and carriage
// returns are the script's own.
type prefixWriter struct {
	w           *bufio.Writer
	prefix      []byte
	atLineStart bool
	// whole: write only whole lines (runs that share the terminal must
	// not cut into each other's lines); partial holds the line so far.
	whole   bool
	partial []byte
	scratch []byte
}

// maxPartialLine bounds a held line: a longer one is written in pieces.
const maxPartialLine = 64 * 1024

func newPrefixWriter(w io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{w: bufio.NewWriterSize(w, 64*1024), prefix: []byte(prefix), atLineStart: true}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if p.whole {
		return p.writeWhole(b)
	}
	if len(p.prefix) == 0 {
		if len(b) > 0 {
			p.atLineStart = b[len(b)-1] == '\n'
		}
		return p.w.Write(b)
	}
	// Build the prefixed text in one buffer and write it once: far cheaper
	// than two writes per line when a script prints millions of lines.
	// The buffer is kept, grown to the output's line lengths; a line that
	// starts with something other than '[' is no note of vpt's.
	n := len(b)
	out := p.scratch[:0]
	if need := len(b) + len(b)/4 + len(p.prefix); cap(out) < need {
		out = make([]byte, 0, need)
	}
	for len(b) > 0 {
		if p.atLineStart && (b[0] != notePrefix[0] || !isNote(b)) {
			out = append(out, p.prefix...)
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			p.atLineStart = false
			break
		}
		out = append(out, b[:i+1]...)
		p.atLineStart = true
		b = b[i+1:]
	}
	if cap(out) <= 4<<20 {
		p.scratch = out
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}

func (p *prefixWriter) writeWhole(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			if len(p.partial) >= maxPartialLine {
				p.w.Write(p.prefix)
				p.w.Write(p.partial)
				p.w.WriteByte('\n')
				p.partial = p.partial[:0]
			}
			return n, nil
		}
		start := p.partial
		if len(start) == 0 {
			start = b[:i+1]
		}
		if !isNote(start) {
			p.w.Write(p.prefix)
		}
		p.w.Write(p.partial)
		p.w.Write(b[:i+1])
		p.partial = p.partial[:0]
		b = b[i+1:]
	}
	return n, nil
}

func (p *prefixWriter) Flush() error { return p.w.Flush() }

// isNote tells whether a line starts as vpt's own lines do: those are
// shown without the script's prefix.
func isNote(line []byte) bool { return bytes.HasPrefix(line, []byte(notePrefix)) }

// endLine ends a line the script left open, so vpt's own messages start on
// a fresh line.
func (p *prefixWriter) endLine() {
	if p.whole && len(p.partial) > 0 {
		p.w.Write(p.prefix)
		p.w.Write(p.partial)
		p.w.WriteByte('\n')
		p.partial = p.partial[:0]
	}
	if !p.whole && !p.atLineStart {
		_, _ = p.w.Write([]byte{'\n'})
		p.atLineStart = true
	}
	_ = p.w.Flush()
}

// Markers are what upstream scripts print for their parent to read.
type Markers struct {
	// Success is false once any SCRIPT_SUCCESS:false line was printed (a
	// reported failure stays one), else true after a SCRIPT_SUCCESS:true;
	// nil when none. The value is read in any case, after optional spaces:
	// Python prints a bool as True or False.
	Success   *bool
	ResultID  string
	ReportURL string
	LogsURL   string
	Lines     int64
}

var (
	successRe  = lazyre.New(`SCRIPT_SUCCESS:[ \t]*((?i)true|false)\b`)
	resultIDRe = lazyre.New(`SCRIPT_RESULT_ID:(\S+)`)
)

// Upstream's log line announcing the uploaded report, with its R2 key.
const uploadedReportMarker = "Uploaded script report: "

// markerScanner assembles the first markerScanBytes of every line and looks
// for markers in it.
type markerScanner struct {
	line      []byte
	overflow  bool
	long      longLine // past the kept start of the line
	m         Markers
	publicURL string // CLOUDFLARE_R2_PUBLIC_URL, to turn an uploaded key into a URL
}

// markerEnds are what every marker has just before its colon; output
// without them is only counted.
var markerEnds = [][]byte{[]byte("SCRIPT_SUCCESS"), []byte("SCRIPT_RESULT_ID"), []byte("_url"), []byte("report"), []byte("uploaded")}

func (s *markerScanner) Write(b []byte) (int, error) {
	n := len(b)
	if !s.mayHoldMarker(b) {
		// The common case: count the lines, keep the start of the last one.
		lines := bytes.Count(b, []byte{'\n'})
		if lines == 0 {
			s.appendLine(b, false)
			return n, nil
		}
		if s.overflow {
			// A marker cut by the chunk may end the long line.
			s.appendLine(b[:bytes.IndexByte(b, '\n')], false)
			s.long.end(s.judge)
		}
		s.m.Lines += int64(lines)
		s.line, s.overflow = s.line[:0], false
		s.appendLine(b[bytes.LastIndexByte(b, '\n')+1:], false)
		return n, nil
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		s.appendLine(chunk, true)
		if i < 0 {
			break
		}
		s.endLine()
		b = b[i+1:]
	}
	return n, nil
}

// mayHoldMarker tells whether b, joined to the line so far, may hold a
// marker: every marker has a colon after one of markerEnds.
func (s *markerScanner) mayHoldMarker(b []byte) bool {
	if bytes.IndexByte(s.line, ':') >= 0 && s.colonAfterMarker(s.line) {
		return true
	}
	// A marker cut between the line so far and this chunk.
	if len(s.line) > 0 {
		joined := append(append(make([]byte, 0, 48), s.line[max(0, len(s.line)-20):]...), b[:min(len(b), 20)]...)
		if s.colonAfterMarker(joined) {
			return true
		}
	}
	return s.colonAfterMarker(b)
}

func (s *markerScanner) colonAfterMarker(b []byte) bool {
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], ':')
		if i < 0 {
			return false
		}
		i += off
		before := b[max(0, i-16):i]
		for _, e := range markerEnds {
			if bytes.HasSuffix(before, e) {
				return true
			}
		}
		off = i + 1
	}
}

// appendLine adds b to the line: to its kept start, and past it to the
// long line's markers (scan: b may hold a whole one).
func (s *markerScanner) appendLine(b []byte, scan bool) {
	if s.overflow {
		s.long.past(b, scan, s.judge)
		return
	}
	room := markerScanBytes - len(s.line)
	if len(b) > room {
		s.line = append(s.line, b[:room]...)
		s.overflow = true
		s.long.begin(s.line)
		s.long.past(b[room:], scan, s.judge)
		return
	}
	s.line = append(s.line, b...)
}

// judge reads the marker "SCRIPT_SUCCESS:"+c of a long line.
func (s *markerScanner) judge(c []byte) {
	m := successRe().FindSubmatchIndex(append(append(make([]byte, 0, len(successLit)+len(c)), successLit...), c...))
	if m == nil || m[0] != 0 {
		return
	}
	s.success(bytes.EqualFold(c[m[2]-len(successLit):m[3]-len(successLit)], []byte("true")))
}

// success records a SCRIPT_SUCCESS marker: a false stays.
func (s *markerScanner) success(v bool) {
	if s.m.Success == nil || *s.m.Success {
		s.m.Success = &v
	}
}

func (s *markerScanner) endLine() {
	if s.overflow {
		s.long.end(s.judge)
	}
	s.m.Lines++
	line := string(bytes.TrimRight(s.line, "\r"))
	s.line = s.line[:0]
	s.overflow = false
	if !strings.Contains(line, "SCRIPT_") && !strings.Contains(line, "_url:") && !strings.Contains(line, uploadedReportMarker) &&
		!strings.Contains(line, "Logs uploaded: ") {
		return
	}
	for _, m := range successRe().FindAllStringSubmatch(line, -1) {
		s.success(strings.EqualFold(m[1], "true"))
	}
	if m := resultIDRe().FindStringSubmatch(line); m != nil {
		s.m.ResultID = m[1]
	}
	t := strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(t, "report_url:"):
		s.m.ReportURL = strings.TrimSpace(strings.TrimPrefix(t, "report_url:"))
	case strings.HasPrefix(t, "logs_url:"):
		s.m.LogsURL = strings.TrimSpace(strings.TrimPrefix(t, "logs_url:"))
	case strings.Contains(line, uploadedReportMarker) && s.m.ReportURL == "":
		// Upstream logs only the key; its parent builds the URL from the
		// public bucket URL. A report_url: line, when present, is better.
		key := strings.TrimSpace(line[strings.Index(line, uploadedReportMarker)+len(uploadedReportMarker):])
		if s.publicURL != "" && key != "" {
			s.m.ReportURL = strings.TrimRight(s.publicURL, "/") + "/" + key
		}
	case strings.Contains(line, "Logs uploaded: ") && s.m.LogsURL == "":
		s.m.LogsURL = strings.TrimSpace(line[strings.Index(line, "Logs uploaded: ")+len("Logs uploaded: "):])
	}
}

// finish counts a last line without a newline.
func (s *markerScanner) finish() Markers {
	if len(s.line) > 0 || s.overflow {
		s.endLine()
	}
	return s.m
}

// sink feeds a run's output to the in-memory tail, the marker scanner and
// the terminal. The script writes output.log itself; while it runs, a
// follower reads the file as it grows and feeds what it reads. vpt's own
// notes are appended to the same file, so they stand where they happened.
//
// With secrets to mask, what the follower reads goes through a masking
// stream first, and each secret it finds is overwritten in output.log
// itself, at its offset, by as many '*' through a descriptor of its own:
// the script's writes append (O_APPEND) and are not disturbed. Bytes that
// may begin a secret are held back until the next read shows, or until
// the output has paused for followIdle (a prompt without a newline).
type sink struct {
	mu      sync.Mutex
	log     *os.File // output.log, appending; nil: notes go nowhere on disk
	logErr  error
	tail    *Tail
	scanner *markerScanner
	term    *prefixWriter // nil: not streamed
	termMu  *sync.Mutex   // shared by the runs of one process
	// atLineStart tells whether the output so far ends with a newline
	// (used when no follower runs).
	atLineStart bool

	// The follower: following is true from follow until it has fixed
	// where output.log ends, so each note is either in the part it reads
	// or fed directly, never both.
	following  bool
	poke, quit chan struct{}
	quitOnce   sync.Once
	done       chan struct{}
	followErr  error

	mask     *secret.Masker // nil: nothing to mask
	stream   *secret.Stream // what the follower reads, masked
	patch    *os.File       // output.log, to mask in place
	patchErr error
}

// Follower polling: promptly while output flows, backing off to
// followIdle when the script is quiet.
const (
	followBusy = time.Millisecond
	followIdle = 20 * time.Millisecond
)

func newSink(tail *Tail, sc *markerScanner, term *prefixWriter, termMu *sync.Mutex) *sink {
	return &sink{tail: tail, scanner: sc, term: term, termMu: termMu, atLineStart: true}
}

// follow starts feeding what is appended to log (output.log, open for
// appending), read through r, until stop; r is closed then.
func (s *sink) follow(log, r *os.File) {
	s.log = log
	s.following = true
	if s.mask.Len() > 0 {
		s.patch, s.patchErr = os.OpenFile(r.Name(), os.O_WRONLY, 0)
		s.stream = s.mask.Stream(s.maskInPlace)
	}
	s.poke, s.quit, s.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go s.followLoop(r)
}

func (s *sink) followLoop(r *os.File) {
	defer close(s.done)
	defer r.Close()
	defer func() {
		s.mu.Lock()
		s.following = false
		s.mu.Unlock()
	}()
	defer s.drain()
	buf := make([]byte, 256*1024)
	wait := time.NewTimer(followBusy)
	defer wait.Stop()
	idle := followBusy
	var end int64 = -1 // the size to read up to once stopping
	var off int64
	for {
		if end >= 0 && off >= end {
			return
		}
		n, err := r.Read(buf)
		if n > 0 {
			off += int64(n)
			s.feed(buf[:n])
			idle = followBusy
			continue
		}
		if err != nil && err != io.EOF {
			s.followErr = err
			return
		}
		if end >= 0 {
			return
		}
		wait.Reset(idle)
		select {
		case <-s.quit:
			// Read what was written before the script ended; a process
			// that left its group and still writes is not waited for.
			s.mu.Lock()
			end = off
			if fi, err := r.Stat(); err == nil {
				end = fi.Size()
			}
			s.following = false
			s.mu.Unlock()
		case <-s.poke:
		case <-wait.C:
			idle = min(2*idle, followIdle)
			if idle == followIdle && s.stream != nil && s.stream.Held() > 0 {
				s.pass(s.stream.Flush())
			}
		}
	}
}

// feed passes a piece of output on, masked.
func (s *sink) feed(p []byte) {
	if s.stream != nil {
		p = s.stream.Write(p)
	}
	s.pass(p)
}

// drain passes on what the masking stream holds at the end of the output.
func (s *sink) drain() {
	if s.stream == nil {
		return
	}
	s.pass(s.stream.Close())
	s.stream = nil
	if s.patch != nil {
		if err := s.patch.Close(); err != nil && s.patchErr == nil {
			s.patchErr = err
		}
	}
}

// maskInPlace overwrites a secret in output.log.
func (s *sink) maskInPlace(off int64, n int) {
	if s.patch == nil {
		return
	}
	if _, err := s.patch.WriteAt(bytes.Repeat([]byte{secret.Mask}, n), off); err != nil && s.patchErr == nil {
		s.patchErr = err
	}
}

// pass passes a piece of masked output on.
func (s *sink) pass(p []byte) {
	if len(p) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail.Write(p)
	s.scanner.Write(p)
	s.atLineStart = p[len(p)-1] == '\n'
	if s.term != nil {
		s.termMu.Lock()
		_, _ = s.term.Write(p)
		_ = s.term.Flush()
		s.termMu.Unlock()
	}
}

// stop waits for the follower to read everything written so far; later
// notes are fed directly.
func (s *sink) stop() {
	if s.done == nil {
		return // never followed
	}
	s.quitOnce.Do(func() { close(s.quit) })
	<-s.done
}

// notePrefix starts each of vpt's own lines in the output.
const notePrefix = "[vpt] "

// note writes one line of vpt's own, starting a new line if the output
// left one open.
func (s *sink) note(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	atLineStart := s.atLineStart
	if s.log != nil {
		atLineStart = endsLine(s.log)
	}
	b := []byte(s.mask.String(line) + "\n")
	if !atLineStart {
		b = append([]byte{'\n'}, b...)
	}
	if s.log != nil && s.logErr == nil {
		_, s.logErr = s.log.Write(b)
	}
	if s.following && s.logErr == nil {
		// The follower shows it, in its place among the script's lines.
		select {
		case s.poke <- struct{}{}:
		default:
		}
		return
	}
	s.tail.Write(b)
	s.atLineStart = true
	if s.term != nil {
		s.termMu.Lock()
		s.term.endLine()
		_, _ = s.term.w.Write(b[bytes.IndexByte(b, '['):])
		_ = s.term.Flush()
		s.termMu.Unlock()
	}
}

// endsLine tells whether f is empty or ends with a newline.
func endsLine(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return true
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], fi.Size()-1); err != nil {
		return true
	}
	return last[0] == '\n'
}

// endLine ends an unterminated last line on the terminal.
func (s *sink) endLine() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term != nil {
		s.termMu.Lock()
		s.term.endLine()
		s.termMu.Unlock()
	}
}

// close stops the follower and reports the first error of output.log.
func (s *sink) close() error {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logErr != nil {
		return s.logErr
	}
	if s.patchErr != nil {
		return fmt.Errorf("masking secrets in output.log: %w", s.patchErr)
	}
	return s.followErr
}
