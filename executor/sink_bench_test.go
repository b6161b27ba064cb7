package executor

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
)

// BenchmarkSink pushes short-line output through everything a chunk of
// script output goes through: output.log, the tail, the marker scanner,
// the prefixed terminal.
func BenchmarkSink(b *testing.B) {
	var lines strings.Builder
	for i := 0; lines.Len() < 256*1024; i++ {
		fmt.Fprintf(&lines, "line %06d of a script's output, short\n", i)
	}
	chunk := []byte(lines.String())
	log, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer log.Close()
	var mu sync.Mutex
	s := newSink(log, NewTail(DefaultTailBytes), &markerScanner{}, newPrefixWriter(io.Discard, "[script] "), &mu)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Write(chunk)
	}
}
