// Package golden compares generated output (ffmpeg and adb argv, HTML
// reports, JUnit XML) with files kept in testdata. Run the tests with
// -update to rewrite the files after an intended change, then review the diff.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// Check compares got with testdata/<name>.golden.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from %s (run with -update if the change is intended)\n%s", name, path, diff(string(want), string(got)))
	}
}

// Argv renders an argv one argument per line, for readable golden files.
func Argv(argv []string) []byte { return []byte(strings.Join(argv, "\n") + "\n") }

// diff shows the first differing line.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			if len(a) > 200 {
				a = a[:200] + "…"
			}
			if len(b) > 200 {
				b = b[:200] + "…"
			}
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return ""
}
