package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vpt-dev/vpt/internal/lazyre"
)

// Errors of the Python environment, found before a script starts. Both are
// infrastructure errors: the machine, not the script, needs fixing.
var (
	// ErrPythonTooOld: the interpreter is older than the library supports.
	ErrPythonTooOld = errors.New("python too old")
	// ErrPythonLib: the library cannot be unpacked into the user cache
	// folder, so `import vpt` would fail.
	ErrPythonLib = errors.New("python library not writable")
)

// MinPython is the oldest Python the library runs on.
var MinPython = [2]int{3, 8}

// Interpreter is the Python that runs .py scripts.
type Interpreter struct {
	// Path is what vpt executes: the configured interpreter (or the
	// project's venv), or the real interpreter behind a pyenv shim.
	Path string `json:"path"`
	// Version is the interpreter's version, "3.11.2".
	Version string `json:"version"`
	// CacheTag names its byte-code files ("cpython-311"; "" for none).
	CacheTag string `json:"cache_tag"`
	// Shim is the pyenv shim Path was resolved through ("" when none).
	Shim string `json:"shim,omitempty"`
	// Env holds the variables the shim sets for the interpreter
	// (KEY=VALUE: pyenv exec's PYENV_VERSION and PATH), which the script
	// gets as if the shim had run it.
	Env []string `json:"env,omitempty"`
}

// ResolveInterpreter finds the Python that runs .py scripts and makes the
// vpt library ready for it. configured is the `python:` setting (default
// python3); a project's venv/bin/python goes first.
//
// A pyenv shim is a bash script that costs 60–80 ms a run: vpt asks it once
// which interpreter it selects and runs that one directly afterwards. The
// answer is cached in the user cache folder, keyed on everything pyenv's
// choice depends on (the shim, PYENV_VERSION, PYENV_DIR, PATH, the nearest
// .python-version, the global version file, the installed versions) and on
// the interpreter's own file, so a changed shim, venv or version file is
// noticed at the next run. Other wrapper scripts are run as they are: vpt
// cannot know what else they do.
//
// Errors say what to fix: ErrInterpreterMissing (not found, or does not
// run), ErrPythonTooOld (older than MinPython), ErrPythonLib (the cache
// folder cannot be written). The library is byte-compiled for the
// interpreter, so `import vpt` costs no compilation even with
// PYTHONDONTWRITEBYTECODE; a compilation that fails only costs speed.
func ResolveInterpreter(ctx context.Context, configured, projectRoot string) (Interpreter, error) {
	name, fix := configured, "choose a Python %d.%d or later with python: in vpt.yaml, VPT_PYTHON or --python"
	if name == "" {
		name = "python3"
	}
	if venv := filepath.Join(projectRoot, "venv", "bin", "python"); projectRoot != "" && isExecFile(venv) {
		name, fix = venv, "recreate the project's venv ("+venv+", which vpt uses before python:) with Python %d.%d or later"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return Interpreter{}, &ResolveError{Err: ErrInterpreterMissing, Msg: fmt.Sprintf("Interpreter %q for .py scripts not found", name),
			Hint: "install it, or set python: in vpt.yaml (or VPT_PYTHON) to an interpreter that exists"}
	}
	if path, err = filepath.Abs(path); err != nil {
		return Interpreter{}, err
	}
	lib, err := PythonLibDir()
	if err != nil {
		return Interpreter{}, libError(err)
	}
	key, shim := interpreterKey(path)
	py, ok := cachedInterpreter(key)
	if !ok {
		if py, err = probe(ctx, path, shim); err != nil {
			return Interpreter{}, err
		}
		storeInterpreter(key, py)
	}
	if err := checkVersion(py, fmt.Sprintf(fix, MinPython[0], MinPython[1])); err != nil {
		return Interpreter{}, err
	}
	compileLib(ctx, py, lib)
	return py, nil
}

func libError(err error) error {
	base := cacheBase()
	return &ResolveError{Err: ErrPythonLib,
		Msg:  fmt.Sprintf("cannot unpack the vpt Python library (import vpt) into the user cache folder: %v", err),
		Hint: fmt.Sprintf("set XDG_CACHE_HOME to a writable folder (now %s)", base)}
}

func checkVersion(py Interpreter, hint string) error {
	major, minor, ok := parseVersion(py.Version)
	if ok && (major > MinPython[0] || major == MinPython[0] && minor >= MinPython[1]) {
		return nil
	}
	via := py.Path
	if py.Shim != "" {
		via = fmt.Sprintf("%s, through the pyenv shim %s", py.Path, py.Shim)
		hint += ", or select another version in pyenv (PYENV_VERSION, .python-version)"
	}
	return &ResolveError{Err: ErrPythonTooOld,
		Msg:  fmt.Sprintf("Python %s (%s) is too old: the vpt library needs Python %d.%d or later", py.Version, via, MinPython[0], MinPython[1]),
		Hint: hint}
}

func parseVersion(v string) (major, minor int, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// pyenvShim matches the shims pyenv writes (pyenv-rehash): they export
// PYENV_ROOT and hand over to `pyenv exec`.
var (
	pyenvShim = lazyre.New(`(?m)^exec "[^"]*pyenv" exec "\$program" "\$@"\s*$`)
	pyenvRoot = lazyre.New(`(?m)^export PYENV_ROOT="([^"]+)"\s*$`)
)

// shimInfo describes the file that was configured: a pyenv shim (root
// set), another script, or a binary.
type shimInfo struct {
	script bool
	root   string // PYENV_ROOT of a pyenv shim
}

func readShim(path string) shimInfo {
	f, err := os.Open(path)
	if err != nil {
		return shimInfo{}
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	info := shimInfo{script: bytes.HasPrefix(head, []byte("#!"))}
	if info.script && pyenvShim().Match(head) {
		if m := pyenvRoot().FindSubmatch(head); m != nil {
			info.root = string(m[1])
		}
	}
	return info
}

// interpreterKey is what the interpreter behind path depends on. For a
// binary, its file; for a pyenv shim, pyenv's inputs (see pyenv-exec,
// pyenv-version-name and pyenv-version-file); for another script, its file
// and PATH.
func interpreterKey(path string) (string, shimInfo) {
	shim := readShim(path)
	var b strings.Builder
	add := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, v) }
	add("format", "1")
	add("path", path)
	add("file", fileSig(path, os.Lstat)+" "+fileSig(path, os.Stat))
	switch {
	case shim.root != "":
		for _, k := range []string{"PYENV_VERSION", "PYENV_DIR", "PATH"} {
			add(k, os.Getenv(k))
		}
		cwd, _ := os.Getwd()
		add("cwd", cwd) // pyenv exports it as PYENV_DIR
		add("local", nearestVersionFile())
		global := filepath.Join(shim.root, "version")
		add("global", global+" "+fileSig(global, os.Stat))
		versions := filepath.Join(shim.root, "versions")
		add("versions", fileSig(versions, os.Stat))
	case shim.script:
		add("PATH", os.Getenv("PATH"))
	}
	return b.String(), shim
}

// nearestVersionFile is the .python-version pyenv would read: the nearest
// one up from PYENV_DIR, then from the working folder (which the script
// inherits), with its signature; "-" when there is none.
func nearestVersionFile() string {
	cwd, _ := os.Getwd()
	for _, dir := range []string{os.Getenv("PYENV_DIR"), cwd} {
		for d := dir; d != ""; d = filepath.Dir(d) {
			p := filepath.Join(d, ".python-version")
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p + " " + fileSig(p, os.Stat)
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	return "-"
}

// fileSig identifies a version of a file: replaced (inode), rewritten or
// touched (size, mtime, ctime) files get another signature.
func fileSig(path string, stat func(string) (os.FileInfo, error)) string {
	st, err := stat(path)
	if err != nil {
		return "missing"
	}
	sig := fmt.Sprintf("%d:%d:%o", st.Size(), st.ModTime().UnixNano(), st.Mode())
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		sig += fmt.Sprintf(":%d:%d:%d.%d", sys.Dev, sys.Ino, sys.Ctim.Sec, sys.Ctim.Nsec)
	}
	return sig
}

// probeScript prints what vpt needs to know of an interpreter, after a
// marker (a wrapper may print first). It runs on any Python, 2.7 included,
// so that a too old one is named as such rather than failing to parse.
const probeScript = `import os, sys
w = getattr(sys.stdout, "buffer", sys.stdout)
enc = getattr(os, "fsencode", lambda s: s)
tag = getattr(getattr(sys, "implementation", None), "cache_tag", None) or ""
out = [b"VPT-PROBE-1", enc(sys.executable or ""), ("%d.%d.%d" % tuple(sys.version_info[:3])).encode("ascii"), tag.encode("ascii")]
env = getattr(os, "environb", os.environ)
for k in sorted(env):
    out.append(k + b"=" + env[k])
w.write(b"\0".join(out))
w.flush()
`

const probeTimeout = 30 * time.Second

// probe runs the interpreter once to learn its version and, behind a
// pyenv shim, the real interpreter and the environment the shim gives it.
func probe(ctx context.Context, path string, shim shimInfo) (Interpreter, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-E", "-S", "-c", probeScript)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	i := bytes.LastIndex(stdout.Bytes(), []byte("VPT-PROBE-1\x00"))
	if err != nil || i < 0 {
		if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
			return Interpreter{}, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		switch {
		case msg == "" && err != nil:
			msg = err.Error()
		case msg == "":
			msg = "it did not answer as a Python interpreter does"
		}
		return Interpreter{}, &ResolveError{Err: ErrInterpreterMissing,
			Msg:  fmt.Sprintf("Python interpreter %s does not run: %s", path, msg),
			Hint: "fix it, or set python: in vpt.yaml (or VPT_PYTHON) to an interpreter that works"}
	}
	fields := strings.Split(stdout.String()[i:], "\x00")
	if len(fields) < 4 {
		return Interpreter{}, fmt.Errorf("python interpreter %s: unreadable answer %q", path, stdout.String()[i:])
	}
	py := Interpreter{Path: path, Version: fields[2], CacheTag: fields[3]}
	if shim.root != "" && filepath.IsAbs(fields[1]) && isExecFile(fields[1]) {
		py.Path, py.Shim = fields[1], path
		py.Env = envChanges(fields[4:])
	}
	return py, nil
}

// notFromShim are variables a shim's environment differs in without the
// shim choosing them: bash's own, and LC_CTYPE, which Python sets itself
// in the C locale (PEP 538).
var notFromShim = map[string]bool{"_": true, "SHLVL": true, "PWD": true, "OLDPWD": true, "LC_CTYPE": true}

// envChanges is what the shim changed in the environment vpt gave it
// (pyenv: PATH, PYENV_VERSION, PYENV_DIR, PYENV_HOOK_PATH...).
func envChanges(seen []string) []string {
	var out []string
	for _, kv := range seen {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || notFromShim[k] {
			continue
		}
		if old, had := os.LookupEnv(k); !had || old != v {
			out = append(out, kv)
		}
	}
	return out
}

// interpreterRecord is one cached resolution. It names the executable's
// signature too, so a reinstalled or removed interpreter is noticed.
type interpreterRecord struct {
	Key         string      `json:"key"`
	Interpreter Interpreter `json:"interpreter"`
	ExeSig      string      `json:"exe_sig"`
}

func interpreterCacheFile(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(cacheBase(), "vpt", "interpreters", hex.EncodeToString(sum[:12])+".json")
}

func cachedInterpreter(key string) (Interpreter, bool) {
	b, err := os.ReadFile(interpreterCacheFile(key))
	if err != nil {
		return Interpreter{}, false
	}
	var rec interpreterRecord
	if json.Unmarshal(b, &rec) != nil || rec.Key != key || rec.ExeSig != fileSig(rec.Interpreter.Path, os.Stat) {
		return Interpreter{}, false
	}
	return rec.Interpreter, true
}

// storeInterpreter caches a resolution (temp file + rename, so another vpt
// never reads half of one). A cache that cannot be written costs a probe
// per run, nothing else.
func storeInterpreter(key string, py Interpreter) {
	b, _ := json.Marshal(interpreterRecord{Key: key, Interpreter: py, ExeSig: fileSig(py.Path, os.Stat)})
	_ = writeFileAtomic(interpreterCacheFile(key), b)
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// compileScript byte-compiles (source, target) pairs, stamped with the
// source's mtime and size as Python's import checks them.
const compileScript = `import sys, py_compile
a = sys.argv[1:]
for i in range(0, len(a), 2):
    py_compile.compile(a[i], cfile=a[i + 1], dfile=a[i], doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
`

// compileLib writes the library's byte code for py where it is missing.
// Each file is compiled to a temporary name and renamed into place, so
// concurrent vpt processes only ever see whole .pyc files.
func compileLib(ctx context.Context, py Interpreter, lib string) {
	if py.CacheTag == "" {
		return
	}
	var args, tmps, finals []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	for name := range PythonLib() {
		src := filepath.Join(lib, name)
		dir := filepath.Join(filepath.Dir(src), "__pycache__")
		final := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".py")+"."+py.CacheTag+".pyc")
		if _, err := os.Stat(final); err == nil {
			continue
		}
		if os.MkdirAll(dir, 0o755) != nil {
			return
		}
		f, err := os.CreateTemp(dir, filepath.Base(final)+".tmp-")
		if err != nil {
			return
		}
		f.Close()
		tmps = append(tmps, f.Name())
		args = append(args, src, f.Name())
		finals = append(finals, final)
	}
	if len(args) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	// -E -S: neither the user's PYTHON* settings nor site packages play a
	// part in compiling the standard-library-only library.
	cmd := exec.CommandContext(ctx, py.Path, append([]string{"-E", "-S", "-c", compileScript}, args...)...)
	cmd.Env = py.Environ(os.Environ())
	if cmd.Run() != nil {
		return
	}
	for i, t := range tmps {
		if os.Rename(t, finals[i]) != nil {
			return
		}
	}
}

// Environ returns base with the interpreter's Env applied.
func (py Interpreter) Environ(base []string) []string {
	env := append([]string(nil), base...)
	for _, kv := range py.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = setEnv(env, k, v)
	}
	return env
}

// Record notes the interpreter in a result's metadata.
func (py Interpreter) Record(meta map[string]any) {
	if py.Version != "" {
		meta["python"], meta["python_version"] = py.Path, py.Version
	}
}
