package executor

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// BenchmarkSink pushes short-line output through everything vpt does with
// a chunk of script output it reads back from output.log: the tail, the
// marker scanner, the prefixed terminal.
func BenchmarkSink(b *testing.B) {
	var lines strings.Builder
	for i := 0; lines.Len() < 256*1024; i++ {
		fmt.Fprintf(&lines, "line %06d of a script's output, short\n", i)
	}
	chunk := []byte(lines.String())
	var mu sync.Mutex
	s := newSink(NewTail(DefaultTailBytes), &markerScanner{}, newPrefixWriter(io.Discard, "[script] "), &mu)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.feed(chunk)
	}
}
