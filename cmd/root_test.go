package cmd

import (
	"runtime/debug"
	"testing"
)

// The batch report commands trade memory for time; the others keep the
// collector's default.
func TestBatchCommandsCollectLess(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(100)
	root := NewRoot(&App{IO: &IOStreams{}})
	for _, tc := range []struct {
		args []string
		want int
	}{{[]string{"report", "list"}, 100}, {[]string{"report", "regenerate"}, batchGCPercent},
		{[]string{"report", "upload"}, batchGCPercent}, {[]string{"report", "prune"}, batchGCPercent}} {
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
