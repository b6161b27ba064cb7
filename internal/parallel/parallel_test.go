package parallel

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// Every item is covered exactly once, whatever the number of items and
// cores.
func TestChunksCoverEachItemOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, minChunk, 2*minChunk - 1, 2 * minChunk, 10007} {
			seen := make([]atomic.Int32, n)
			var calls atomic.Int32
			Chunks(n, func(lo, hi int) {
				calls.Add(1)
				if lo >= hi {
					t.Errorf("procs %d n %d: empty range [%d, %d)", procs, n, lo, hi)
				}
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			for i := range seen {
				if c := seen[i].Load(); c != 1 {
					t.Fatalf("procs %d n %d: item %d covered %d times", procs, n, i, c)
				}
			}
			want := int32(min(procs, n/minChunk))
			if want < 1 {
				want = min(int32(n), 1)
			}
			if calls.Load() != want {
				t.Errorf("procs %d n %d: %d calls, want %d", procs, n, calls.Load(), want)
			}
		}
	}
}
