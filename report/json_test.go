package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// The atomic writes leave the file complete and readable by everyone, and
// no temporary file beside it.
func TestWriteFileAtomicAndNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ResultJSON)
	if err := WriteFileAtomic(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("after two writes: %q", b)
	}
	if err := WriteFileNew(path, []byte("three")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteFileNew over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("WriteFileNew changed an existing file: %q", b)
	}
	other := filepath.Join(dir, ReportHTML)
	if err := WriteFileNew(other, []byte("new")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, other} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Fatalf("%s: %v %v, want mode 0644", p, st.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

// A run's files: result.json names report.html, which is there; a report
// that cannot take its place leaves a result.json that names none; a
// result.json that cannot be written leaves no report either. No
// temporary file stays in any case.
func TestWriteRunFiles(t *testing.T) {
	newRun := func(t *testing.T) *store.Result {
		now := time.Now().UTC()
		return &store.Result{ID: store.NewID(), ScriptName: "noop", Status: store.StatusPassed, Success: true,
			StartedAt: now, CompletedAt: &now, RunDir: t.TempDir()}
	}
	names := func(dir string) []string {
		entries, _ := os.ReadDir(dir)
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	res := newRun(t)
	if err := WriteRunFiles(res, []byte("out\n")); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(res.RunDir)); got != "[report.html result.json]" {
		t.Fatalf("files: %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(res.RunDir, ResultJSON)); !strings.Contains(string(b), `"report": "report.html"`) {
		t.Fatalf("result.json does not name its report:\n%s", b)
	}

	res = newRun(t)
	os.MkdirAll(filepath.Join(res.RunDir, ReportHTML, "x"), 0o755) // a folder where the report goes
	if err := WriteRunFiles(res, nil); err == nil || !strings.Contains(err.Error(), "report.html") {
		t.Fatalf("a report that cannot be placed: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(res.RunDir, ResultJSON)); strings.Contains(string(b), `"report"`) {
		t.Fatalf("result.json names a report that is not there:\n%s", b)
	}
	if got := fmt.Sprint(names(res.RunDir)); got != "[report.html result.json]" {
		t.Fatalf("files after a failed report: %s", got)
	}

	res = newRun(t)
	os.MkdirAll(filepath.Join(res.RunDir, ResultJSON, "x"), 0o755) // a folder where result.json goes
	if err := WriteRunFiles(res, nil); err == nil || !strings.Contains(err.Error(), "result.json") {
		t.Fatalf("a result.json that cannot be placed: %v", err)
	}
	if got := fmt.Sprint(names(res.RunDir)); got != "[result.json]" {
		t.Fatalf("files after a failed result.json (a report without its result.json?): %s", got)
	}
}
