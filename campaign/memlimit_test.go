package campaign

import (
	"runtime/debug"
	"testing"
)

// Campaigns that finish at once in one process (an agent, the tests)
// lift the memory limit together: it comes back when the last is done,
// whatever order they end in.
func TestOverlappingLiftsRestoreTheLimit(t *testing.T) {
	const limit = 32 << 20
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	a := liftMemoryLimit()
	b := liftMemoryLimit()
	if got := debug.SetMemoryLimit(-1); got == limit {
		t.Fatal("the limit was not lifted")
	}
	a()
	if got := debug.SetMemoryLimit(-1); got == limit {
		t.Fatal("the limit came back while a campaign still makes its reports")
	}
	b()
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("limit %d after both, want %d", got, limit)
	}
}
