package cmd

import (
	"math"
	"runtime/debug"
	"testing"
)

// The batch report commands and the commands that run scripts trade memory
// for time; the others keep the collector's default.
func TestBatchCommandsCollectLess(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(100)
	defer debug.SetMemoryLimit(math.MaxInt64)
	root := NewRoot(&App{IO: &IOStreams{}})
	for _, tc := range []struct {
		args []string
		want int
	}{{[]string{"report", "list"}, 100}, {[]string{"report", "show"}, 100}, {[]string{"report", "regenerate"}, relaxedGCPercent},
		{[]string{"report", "upload"}, relaxedGCPercent}, {[]string{"report", "prune"}, relaxedGCPercent},
		{[]string{"run"}, relaxedGCPercent}, {[]string{"campaign"}, relaxedGCPercent}, {[]string{"agent"}, relaxedGCPercent}} {
		debug.SetGCPercent(100)
		cmd, _, err := root.Find(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		(&App{IO: &IOStreams{}}).setCommand(cmd)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("vpt %v: GC percent %d, want %d", tc.args, got, tc.want)
		}
	}
}
