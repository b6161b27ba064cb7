// Package parallel splits work on many independent items across the
// machine's cores.
package parallel

import (
	"runtime"
	"sync"
)

// minChunk is the fewest items worth a goroutine of their own.
const minChunk = 512

// Chunks calls f on consecutive ranges [lo, hi) that together cover
// [0, n), at once, one range per core (a single call for fewer than
// 2*minChunk items), and returns when all have returned. f must be safe to
// call from several goroutines on distinct ranges.
func Chunks(n int, f func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/minChunk)
	if parts <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { f(lo, hi) })
	}
	wg.Wait()
}
