package executor

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/vpt-dev/vpt/internal/secret"
	"github.com/vpt-dev/vpt/report"
)

// BenchmarkSink pushes short-line output through everything vpt does with
// a chunk of script output it reads back from output.log: the tail, the
// marker scanner, the prefixed terminal; masked: with secrets to mask as
// well (a run with upload keys and a store password), none of which
// occurs.
func BenchmarkSink(b *testing.B) {
	var lines strings.Builder
	for i := 0; lines.Len() < 256*1024; i++ {
		fmt.Fprintf(&lines, "line %06d of a script's output, short\n", i)
	}
	chunk := []byte(lines.String())
	for _, masked := range []bool{false, true} {
		b.Run(fmt.Sprintf("masked=%v", masked), func(b *testing.B) {
			var mu sync.Mutex
			s := newSink(NewTail(report.TailBytes), &markerScanner{}, newPrefixWriter(io.Discard, "[script] "), &mu)
			if masked {
				s.stream = secret.NewMasker("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "StorePassw0rd").Stream(nil)
			}
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.feed(chunk)
			}
		})
	}
}
