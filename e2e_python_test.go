package main

// End-to-end tests of the Python side: the interpreter vpt picks, the
// environment problems it finds before a script starts, and verdicts that
// must be booleans.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// realPython is the interpreter behind python3 (itself when it is no shim).
func realPython(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// vpt.verdict("false") was a pass: the library turned it into bool("false").
func TestVerdictMustBeABoolean(t *testing.T) {
	p := newProject(t)
	for _, c := range []struct{ script, want string }{
		{`vpt.verdict("false")`, `TypeError: vpt.verdict(): passed must be True or False, got 'false' (str)`},
		{`vpt.verdict(0)`, `TypeError: vpt.verdict(): passed must be True or False, got 0 (int)`},
		{`vpt.verdict(None)`, `TypeError: vpt.verdict(): passed must be True or False, got None (NoneType)`},
		{`vpt.step("check", "false")`, `TypeError: vpt.step('check'): passed must be True or False, got 'false' (str)`},
		// append="no" appended: bool("no") is True.
		{`vpt.summary("x", append="no")`, `TypeError: vpt.summary(): append must be True or False, got 'no' (str)`},
	} {
		p.write("test_scripts/v.py", "import vpt\n"+c.script+"\n")
		r := p.vpt("run", "v")
		r.expect(t, 1, c.want)
	}
	for _, row := range p.results() {
		if row.Status != store.StatusFailed {
			t.Fatalf("run %s: %s, want failed", row.ID[:8], row.Status)
		}
	}
	// Other clients get bad_params for anything but a JSON boolean.
	p.write("test_scripts/raw.sh", `#!/bin/sh
"$VPT_BIN" api verdict --params '{"passed": "false"}' 2>&1
"$VPT_BIN" api step --params '{"name": "s", "passed": "false"}' 2>&1
"$VPT_BIN" api step --params '{"name": "s", "passed": null}' 2>&1
"$VPT_BIN" api step name=s passed=0 2>&1
"$VPT_BIN" api step name=s passed=false 2>&1
exit 0
`)
	os.Chmod(filepath.Join(p.dir, "test_scripts/raw.sh"), 0o755)
	r := p.vpt("run", "raw.sh")
	if n := strings.Count(r.stdout, `bad_params: verdict: "passed" must be true or false, got "false"`); n != 1 {
		t.Fatalf("verdict with a string accepted:\n%s", r.stdout)
	}
	if n := strings.Count(r.stdout, `bad_params: step: "passed" must be true or false`); n != 3 {
		t.Fatalf("%d steps refused, want 3:\n%s", n, r.stdout)
	}
	r.expect(t, 1, "step 1 (s) failed") // the one well-formed step: passed=false
}

// fakeOldPython is a Python that says it is 3.7.16 and runs no script.
func fakeOldPython(t *testing.T, dir string) string {
	p := filepath.Join(dir, "python3")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(p, []byte(`#!`+realPython(t)+`
import sys
sys.version_info = (3, 7, 16, "final", 0)
args = sys.argv[1:]
while args and args[0] in ("-E", "-S", "-u"):
    args.pop(0)
if args[:1] == ["-c"]:
    sys.argv = ["-c"] + args[2:]
    exec(args[1])
else:
    print("SyntaxError: a 3.7 cannot run the vpt library")
    sys.exit(1)
`), 0o755)
	return p
}

// A Python older than 3.8 failed with a SyntaxError recorded as a failed
// run; it is an infrastructure error found before the script starts.
// After os.fork() the parent and the child shared the library's
// connection and read each other's replies: a where() answered with a
// ping's {}. A forked child makes a connection of its own.
func TestLibraryAfterFork(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/fork.py", `import os, vpt
vpt.where()
pid = os.fork()
errs = 0
for i in range(200):
    r = vpt.call("ping") if pid == 0 else vpt.call("where")
    if (pid == 0 and r != {}) or (pid != 0 and "node" not in r):
        errs += 1
print("child" if pid == 0 else "parent", "mismatches:", errs, flush=True)
if pid == 0:
    os._exit(0)
os.wait()
`)
	p.vpt("run", "fork").expectOut(t, 0, "child mismatches: 0", "parent mismatches: 0", "PASSED")
}

func TestOldPythonRefusedBeforeTheRun(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/noop.py", "import vpt\n")
	bin := filepath.Join(p.dir, "oldbin")
	old := fakeOldPython(t, bin)
	p.vptEnv([]string{"PATH=" + bin + ":" + os.Getenv("PATH")}, "run", "noop").
		expectErr(t, 3, "Python 3.7.16 ("+old+") is too old: the vpt library needs Python 3.8 or later",
			"hint: choose a Python 3.8 or later with python: in vpt.yaml, VPT_PYTHON or --python")
	p.vpt("run", "noop", "--python", old).expectErr(t, 3, "is too old")
	p.noRows()
}

// An unwritable cache folder made `import vpt` fail with ModuleNotFoundError,
// recorded as a failed run.
func TestUnwritableCacheFolderRefusedBeforeTheRun(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/noop.py", "import vpt\n")
	file := p.write("not-a-folder", "")
	for _, cache := range []string{file, "/proc/vpt-cache"} {
		p.vptEnv([]string{"XDG_CACHE_HOME=" + cache}, "run", "noop").
			expectErr(t, 3, "cannot unpack the vpt Python library (import vpt) into the user cache folder",
				"hint: set XDG_CACHE_HOME to a writable folder (now "+cache+")")
	}
	if os.Geteuid() != 0 { // root writes into read-only folders
		ro := filepath.Join(p.dir, "ro")
		os.Mkdir(ro, 0o555)
		p.vptEnv([]string{"XDG_CACHE_HOME=" + ro}, "run", "noop").expect(t, 3, "set XDG_CACHE_HOME")
	}
	p.noRows()
}

// A pyenv shim (a bash script) as python3 cost 60–80 ms a run: vpt runs it
// once, caches the interpreter it selects, and asks again when the shim or
// what pyenv's choice depends on changes.
func TestPyenvShimRunsOnce(t *testing.T) {
	p := newProject(t)
	real := realPython(t)
	root := filepath.Join(p.dir, "pyenv")
	count := filepath.Join(p.dir, "shim-runs")
	shim := p.write("pyenv/shims/python3", `#!/usr/bin/env bash
set -e
[ -n "$PYENV_DEBUG" ] && set -x

program="${0##*/}"

export PYENV_ROOT="`+root+`"
echo run >> "`+count+`"
exec "`+root+`/libexec/pyenv" exec "$program" "$@"
`)
	p.write("pyenv/libexec/pyenv", `#!/bin/sh
shift 2
export PYENV_VERSION="${PYENV_VERSION:-fake-global}"
export PATH="`+root+`/versions/fake/bin:$PATH"
exec "`+real+`" "$@"
`)
	os.Chmod(shim, 0o755)
	os.Chmod(filepath.Join(root, "libexec/pyenv"), 0o755)
	p.write("pyenv/version", "fake-global\n")
	p.write("test_scripts/which.py", `import os, sys, vpt
print("EXE", sys.executable)
print("PYENV_VERSION", os.environ.get("PYENV_VERSION"))
print("PATH0", os.environ["PATH"].split(":")[0])
`)
	env := []string{"PATH=" + filepath.Dir(shim) + ":" + os.Getenv("PATH")}
	runs := func(extra []string, want int, why string) result {
		t.Helper()
		r := p.vptEnv(append(append([]string(nil), env...), extra...), "run", "which")
		r.expect(t, 0, "EXE "+real)
		b, _ := os.ReadFile(count)
		if n := strings.Count(string(b), "run"); n != want {
			t.Fatalf("%s: the shim ran %d times, want %d", why, n, want)
		}
		return r
	}
	r := runs(nil, 1, "first run")
	// The script sees what the shim would have given it.
	r.expect(t, 0, "PYENV_VERSION fake-global", "PATH0 "+root+"/versions/fake/bin")
	runs(nil, 1, "second run")
	rows := p.results()
	res, err := report.ReadResultJSON(rows[0].RunDir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Metadata["python"] != real || res.Metadata["python_version"] == "" {
		t.Fatalf("interpreter not recorded: %v", res.Metadata)
	}

	later := time.Now().Add(time.Minute)
	os.Chtimes(shim, later, later)
	runs(nil, 2, "shim touched")
	runs([]string{"PYENV_VERSION=other"}, 3, "PYENV_VERSION set")
	runs([]string{"PYENV_VERSION=other"}, 3, "PYENV_VERSION set, again")
	p.write(".python-version", "3.x\n")
	runs(nil, 4, ".python-version written")
	runs(nil, 4, ".python-version written, again")
}

// Byte-compiled at unpacking, the library imports without compiling, even
// where Python writes no byte code.
func TestLibraryImportsFromByteCode(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/imp.py", "import os, vpt\nprint('PYC', os.path.exists(vpt.__cached__))\n")
	p.vptEnv([]string{"PYTHONDONTWRITEBYTECODE=1", "VPT_PYTHON=" + realPython(t)}, "run", "imp").expect(t, 0, "PYC True")
	// Python says it imported the byte code (-v: "code object from").
	lib, _ := filepath.Glob(filepath.Join(p.dir, ".cache", "vpt", "python", "*"))
	if len(lib) != 1 {
		t.Fatalf("library folders %v", lib)
	}
	cmd := exec.Command(realPython(t), "-v", "-c", "import vpt")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+lib[0], "PYTHONDONTWRITEBYTECODE=1")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "code object from '"+lib[0]+"/vpt/__pycache__/__init__.") {
		t.Fatalf("vpt compiled at import:\n%s", out)
	}
}

// vpt processes starting at once on a fresh cache folder each unpack and
// compile the library; every run passes and only whole files remain.
func TestLibraryUnpackedConcurrently(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/imp.py", "import os, vpt\nprint('PYC', os.path.exists(vpt.__cached__))\n")
	const n = 4
	python := realPython(t)
	type ended struct {
		err error
		out []byte
	}
	done := make(chan ended, n)
	for i := 0; i < n; i++ {
		go func() {
			cmd := p.command([]string{"PYTHONDONTWRITEBYTECODE=1", "VPT_PYTHON=" + python}, "run", "imp")
			out, err := cmd.CombinedOutput()
			done <- ended{err, out}
		}()
	}
	for i := 0; i < n; i++ {
		if e := <-done; e.err != nil {
			t.Fatalf("%v\n%s", e.err, e.out)
		}
	}
	var files []string
	filepath.Walk(filepath.Join(p.dir, ".cache", "vpt", "python"), func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, strings.TrimPrefix(path, p.dir+"/.cache/vpt/python/"))
		}
		return nil
	})
	if len(files) != 2 || !strings.HasSuffix(files[0], "vpt/__init__.py") || !strings.Contains(files[1], "vpt/__pycache__/__init__.") {
		t.Fatalf("library files: %v", files)
	}
	p.vptEnv([]string{"PYTHONDONTWRITEBYTECODE=1", "VPT_PYTHON=" + python}, "run", "imp").expect(t, 0, "PYC True")
}
