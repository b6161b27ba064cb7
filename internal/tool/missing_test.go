package tool

import (
	"os"
	"os/exec"
	"testing"
)

// A program not on PATH and a configured path to nothing are missing; a
// program that fails, or a missing file it was given, is not.
func TestMissing(t *testing.T) {
	_, openErr := os.Open("/nonexistent/input.ts")
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"not on PATH", exec.Command("vpt-no-such-program").Run(), true},
		{"a path to nothing", exec.Command("/nonexistent/ffmpeg").Run(), true},
		{"a program that fails", exec.Command("false").Run(), false},
		{"a missing input file", openErr, false},
		{"no error", nil, false},
	} {
		if got := Missing(c.err); got != c.want {
			t.Errorf("%s: Missing(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
