package executor

import (
	"context"
	"os/exec"
	"testing"
)

// What a run pays to find its interpreter once it is cached: the python3
// on PATH (a pyenv shim on many machines).
func BenchmarkResolveInterpreterCached(b *testing.B) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Fatal(err)
	}
	b.Setenv("XDG_CACHE_HOME", b.TempDir())
	ctx := context.Background()
	if _, err := ResolveInterpreter(ctx, "python3", ""); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ResolveInterpreter(ctx, "python3", ""); err != nil {
			b.Fatal(err)
		}
	}
}
