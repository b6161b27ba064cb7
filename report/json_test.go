package report

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
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
