package executor

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/report"
)

// openLog opens a run's output.log the way a run does: appending, with a
// second descriptor to read it back.
func openLog(t *testing.T) (log, r *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "output.log")
	log, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	if r, err = os.Open(path); err != nil {
		t.Fatal(err)
	}
	return log, r
}

// What the script appends and vpt's notes reach the terminal, the tail
// and the marker scanner in file order; a note after a line the script
// left open starts a line of its own, and shows without the script's
// prefix.
func TestSinkFollowsOutputLog(t *testing.T) {
	log, r := openLog(t)
	var term bytes.Buffer
	var mu sync.Mutex
	s := newSink(NewTail(report.TailBytes), &markerScanner{}, newPrefixWriter(&term, "[s] "), &mu)
	s.follow(log, r)
	log.Write([]byte("one\npartial"))
	s.note(notePrefix + "first note")
	log.Write([]byte("SCRIPT_SUCCESS:false\n"))
	time.Sleep(30 * time.Millisecond) // let the follower find it by polling too
	log.Write([]byte("last"))
	s.stop()
	s.endLine()
	s.note(notePrefix + "after the end")

	wantFile := "one\npartial\n[vpt] first note\nSCRIPT_SUCCESS:false\nlast\n[vpt] after the end\n"
	if b, _ := os.ReadFile(log.Name()); string(b) != wantFile {
		t.Fatalf("output.log %q\nwant %q", b, wantFile)
	}
	wantTerm := "[s] one\n[s] partial\n[vpt] first note\n[s] SCRIPT_SUCCESS:false\n[s] last\n[vpt] after the end\n"
	if term.String() != wantTerm {
		t.Fatalf("terminal %q\nwant %q", term.String(), wantTerm)
	}
	if string(s.tail.Bytes()) != wantFile {
		t.Fatalf("tail %q", s.tail.Bytes())
	}
	if m := s.scanner.finish(); m.Success == nil || *m.Success {
		t.Fatalf("markers %+v", m)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
}

// A process that keeps writing after the script's end (one that left the
// script's process group) does not hold the run up: stop reads what was
// there when it was called.
func TestSinkStopDoesNotChaseAWriter(t *testing.T) {
	log, r := openLog(t)
	s := newSink(NewTail(1024), &markerScanner{}, nil, nil)
	s.follow(log, r)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		line := bytes.Repeat([]byte("x"), 4095)
		line = append(line, '\n')
		for {
			select {
			case <-quit:
				return
			default:
				log.Write(line)
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { s.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stop kept reading a file that never stops growing")
	}
	if s.tail.Total() == 0 {
		t.Fatal("nothing was read")
	}
}
