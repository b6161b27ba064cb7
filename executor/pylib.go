package executor

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// The Python library scripts import as `vpt`, shipped inside the binary.
//
//go:embed pylib/vpt/*.py
var pylib embed.FS

var pylibDir = sync.OnceValues(writePythonLib)

// PythonLibDir writes the Python library out (once per version of it) and
// returns the folder to put on PYTHONPATH. ResolveInterpreter byte-compiles
// it for each interpreter.
func PythonLibDir() (string, error) { return pylibDir() }

// PythonLib returns the library's source files by name.
func PythonLib() map[string][]byte {
	out := map[string][]byte{}
	_ = fs.WalkDir(pylib, "pylib", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := pylib.ReadFile(p)
			rel, _ := filepath.Rel("pylib", p)
			out[rel] = b
		}
		return nil
	})
	return out
}

func writePythonLib() (string, error) {
	files := PythonLib()
	h := sha256.New()
	for _, name := range sortedNames(files) {
		h.Write([]byte(name))
		h.Write(files[name])
	}
	version := hex.EncodeToString(h.Sum(nil))[:12]
	dir := filepath.Join(cacheBase(), "vpt", "python", version)
	if _, err := os.Stat(filepath.Join(dir, "vpt", "__init__.py")); err == nil {
		return dir, nil
	}
	// Write into a fresh folder and rename it into place, so concurrent
	// vpt processes never see half a library.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), version+".tmp-")
	if err != nil {
		return "", err
	}
	for name, b := range files {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	os.Chmod(tmp, 0o755)
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(filepath.Join(dir, "vpt", "__init__.py")); statErr == nil {
			return dir, nil // another process won the race
		}
		return "", err
	}
	return dir, nil
}

// cacheBase is the user cache folder ($XDG_CACHE_HOME, ~/.cache), or the
// temporary folder when there is none.
func cacheBase() string {
	base, err := os.UserCacheDir()
	if err != nil || base == "" {
		return os.TempDir()
	}
	return base
}

func sortedNames(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
