package executor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// libPath writes the library out and returns the folder for PYTHONPATH.
func libPath(t *testing.T) string {
	t.Helper()
	lib, err := PythonLibDir()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// fakeVpt serves the control protocol: it answers every request with an
// empty success and records the requests, in order.
func fakeVpt(t *testing.T) (path string, requests func() []map[string]any) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "control")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan map[string]any, 100)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					var req map[string]any
					json.Unmarshal(sc.Bytes(), &req)
					got <- req
					rep, _ := json.Marshal(map[string]any{"v": 1, "id": req["id"], "ok": true, "result": map[string]any{"step_id": 1}})
					c.Write(append(rep, '\n'))
				}
			}()
		}
	}()
	return path, func() []map[string]any {
		var out []map[string]any
		for {
			select {
			case r := <-got:
				out = append(out, r)
			default:
				return out
			}
		}
	}
}

// A pass/fail is True or False: bool("false") is True, so the library must
// not turn strings, numbers or None into verdicts.
func TestLibraryRefusesNonBoolPassFail(t *testing.T) {
	cases := []struct {
		call string
		want string // the TypeError, or the JSON "passed" sent
	}{
		{`vpt.verdict("false")`, `TypeError: vpt.verdict(): passed must be True or False, got 'false' (str)`},
		{`vpt.verdict(0)`, `TypeError: vpt.verdict(): passed must be True or False, got 0 (int)`},
		{`vpt.verdict(1)`, `TypeError: vpt.verdict(): passed must be True or False, got 1 (int)`},
		{`vpt.verdict(None)`, `TypeError: vpt.verdict(): passed must be True or False, got None (NoneType)`},
		{`vpt.verdict([])`, `TypeError: vpt.verdict(): passed must be True or False, got [] (list)`},
		{`vpt.step("s", "false")`, `TypeError: vpt.step('s'): passed must be True or False, got 'false' (str)`},
		{`vpt.step("s", 0)`, `TypeError: vpt.step('s'): passed must be True or False, got 0 (int)`},
		{`vpt.step("s", "")`, `TypeError: vpt.step('s'): passed must be True or False, got '' (str)`},
		{`ctx = vpt.ScriptExecutionContext("x"); ctx.overall_success = "yes"; vpt.ScriptExecutor("x").cleanup_and_exit(ctx)`,
			`TypeError: cleanup_and_exit(): context.overall_success must be True or False, got 'yes' (str)`},
		{`vpt.verdict(True)`, `verdict true`},
		{`vpt.verdict(False, "r")`, `verdict false`},
		{`vpt.step("s", True)`, `step true`},
		{`vpt.step("s", False)`, `step false`},
		{`vpt.step("s")`, ``}, // a block: nothing is sent before it is entered
	}
	control, requests := fakeVpt(t)
	var prog strings.Builder
	prog.WriteString("import vpt\n")
	for _, c := range cases {
		prog.WriteString("try:\n    " + c.call + "\n    print('ok')\nexcept TypeError as e:\n    print('TypeError: %s' % e)\n")
		prog.WriteString("vpt.call('mark')\n")
	}
	cmd := exec.Command(realPython(t), "-c", prog.String())
	cmd.Env = append(os.Environ(), "PYTHONPATH="+libPath(t), "VPT_CONTROL="+control)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	// The requests of case i are those before its mark.
	var sent [][]map[string]any
	var cur []map[string]any
	for _, r := range requests() {
		if r["method"] == "mark" {
			sent, cur = append(sent, cur), nil
			continue
		}
		cur = append(cur, r)
	}
	if len(lines) != len(cases) || len(sent) != len(cases) {
		t.Fatalf("%d lines, %d marks for %d cases:\n%s", len(lines), len(sent), len(cases), out)
	}
	for i, c := range cases {
		if strings.HasPrefix(c.want, "TypeError") {
			if lines[i] != c.want || len(sent[i]) != 0 {
				t.Errorf("%s: printed %q and sent %v, want %q and nothing sent", c.call, lines[i], sent[i], c.want)
			}
			continue
		}
		var got string
		if len(sent[i]) == 1 {
			p, _ := sent[i][0]["params"].(map[string]any)
			passed, _ := json.Marshal(p["passed"])
			got = sent[i][0]["method"].(string) + " " + string(passed)
		}
		if lines[i] != "ok" || got != c.want || (c.want == "" && len(sent[i]) != 0) {
			t.Errorf("%s: printed %q and sent %v, want ok and %q", c.call, lines[i], sent[i], c.want)
		}
	}
}

// import vpt loads no module beyond what it needs to be imported: json,
// socket, argparse and traceback wait for their first use.
func TestLibraryImportsLittle(t *testing.T) {
	cmd := exec.Command(realPython(t), "-c", `import sys
before = set(sys.modules)
import vpt
print(" ".join(sorted(set(sys.modules) - before)))`)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+libPath(t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var extra []string
	for _, m := range strings.Fields(string(out)) {
		if m != "vpt" && m != "_thread" && m != "time" {
			extra = append(extra, m)
		}
	}
	if len(extra) > 0 {
		t.Errorf("import vpt loaded %s", strings.Join(extra, " "))
	}
}

// After ResolveInterpreter, the library imports from byte code even where
// Python may not write any (PYTHONDONTWRITEBYTECODE).
func TestLibraryByteCompiled(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	py, err := ResolveInterpreter(context.Background(), realPython(t), "")
	if err != nil {
		t.Fatal(err)
	}
	lib := libPath(t)
	pyc := filepath.Join(lib, "vpt", "__pycache__", "__init__."+py.CacheTag+".pyc")
	if _, err := os.Stat(pyc); err != nil {
		t.Fatalf("no byte code: %v", err)
	}
	cmd := exec.Command(py.Path, "-v", "-c", "import vpt")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+lib, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "code object from '"+pyc+"'") {
		t.Fatalf("vpt not imported from %s:\n%s", pyc, grepLines(string(out), "vpt"))
	}
	entries, _ := os.ReadDir(filepath.Dir(pyc))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// fakePyenv writes a pyenv root whose shim counts its runs and whose
// `pyenv exec` runs the real interpreter as pyenv does: PYENV_VERSION
// exported, the version's folder first on PATH.
func fakePyenv(t *testing.T, real string) (shim, count string) {
	t.Helper()
	root := t.TempDir()
	count = filepath.Join(root, "count")
	shim = filepath.Join(root, "shims", "python3")
	write := func(p, s string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(shim, `#!/usr/bin/env bash
set -e
[ -n "$PYENV_DEBUG" ] && set -x

program="${0##*/}"

export PYENV_ROOT="`+root+`"
echo run >> "`+count+`"
exec "`+root+`/libexec/pyenv" exec "$program" "$@"
`)
	write(filepath.Join(root, "libexec", "pyenv"), `#!/bin/sh
shift 2
export PYENV_VERSION="${PYENV_VERSION:-fake-global}"
export PATH="`+root+`/versions/fake/bin:$PATH"
exec "`+real+`" "$@"
`)
	write(filepath.Join(root, "version"), "fake-global\n")
	os.MkdirAll(filepath.Join(root, "versions", "fake", "bin"), 0o755)
	return shim, count
}

func runs(t *testing.T, count string) int {
	b, _ := os.ReadFile(count)
	return strings.Count(string(b), "run")
}

func TestResolveInterpreterThroughAPyenvShim(t *testing.T) {
	real := realPython(t)
	shim, count := fakePyenv(t, real)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("PYENV_VERSION", "")
	t.Setenv("PYENV_DIR", "")
	t.Chdir(t.TempDir())
	ctx := context.Background()
	resolve := func(want int, why string) Interpreter {
		t.Helper()
		py, err := ResolveInterpreter(ctx, shim, "")
		if err != nil {
			t.Fatal(err)
		}
		if n := runs(t, count); n != want {
			t.Fatalf("%s: the shim ran %d times, want %d", why, n, want)
		}
		return py
	}
	py := resolve(1, "first")
	if py.Path != real || py.Shim != shim || py.Version == "" || py.CacheTag == "" {
		t.Fatalf("resolved %+v, want %s behind %s", py, real, shim)
	}
	env := strings.Join(py.Env, "\n")
	if !strings.Contains(env, "PYENV_VERSION=fake-global") || !strings.Contains(env, "PATH="+filepath.Dir(filepath.Dir(shim))+"/versions/fake/bin:") {
		t.Fatalf("the shim's environment is not kept: %q", py.Env)
	}
	resolve(1, "again")

	later := time.Now().Add(time.Minute)
	os.Chtimes(shim, later, later)
	resolve(2, "shim touched")
	resolve(2, "again")

	t.Setenv("PYENV_VERSION", "other")
	resolve(3, "PYENV_VERSION changed")
	t.Setenv("PYENV_VERSION", "")
	resolve(3, "PYENV_VERSION back") // its resolution is cached still

	os.WriteFile(".python-version", []byte("3.x\n"), 0o644)
	resolve(4, ".python-version written")
	os.WriteFile(".python-version", []byte("3.y\n"), 0o644)
	os.Chtimes(".python-version", later, later)
	resolve(5, ".python-version changed")

	global := filepath.Join(filepath.Dir(filepath.Dir(shim)), "version")
	os.Remove(".python-version")
	os.WriteFile(global, []byte("fake-other\n"), 0o644)
	os.Chtimes(global, later, later)
	resolve(6, "global version changed")
}

// A plain interpreter (not a pyenv shim) is run as configured; a wrapper
// script too: vpt cannot know what else it does.
func TestResolveInterpreterKeepsWrappers(t *testing.T) {
	real := realPython(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "python3")
	os.WriteFile(wrapper, []byte("#!/bin/sh\necho wrapped\nexec "+real+" \"$@\"\n"), 0o755)
	for _, p := range []string{real, wrapper} {
		py, err := ResolveInterpreter(context.Background(), p, "")
		if err != nil {
			t.Fatal(err)
		}
		if py.Path != p || py.Shim != "" || len(py.Env) != 0 {
			t.Errorf("%s resolved to %+v", p, py)
		}
	}
	// The project's venv goes before the setting.
	venv := filepath.Join(dir, "venv", "bin", "python")
	os.MkdirAll(filepath.Dir(venv), 0o755)
	os.Symlink(real, venv)
	if py, err := ResolveInterpreter(context.Background(), "python3", dir); err != nil || py.Path != venv {
		t.Fatalf("venv: %+v %v", py, err)
	}
}

// fakeOldPython is a Python that says it is 3.7.16.
func fakeOldPython(t *testing.T, dir string) string {
	p := filepath.Join(dir, "python3")
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
    sys.exit("fake Python 3.7 runs no scripts")
`), 0o755)
	return p
}

func TestResolveInterpreterRefusesOldPython(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	old := fakeOldPython(t, t.TempDir())
	for i := 0; i < 2; i++ { // probed, then from the cache
		_, err := ResolveInterpreter(context.Background(), old, "")
		var re *ResolveError
		if !errors.Is(err, ErrPythonTooOld) || !errors.As(err, &re) {
			t.Fatalf("%v, want ErrPythonTooOld", err)
		}
		if !strings.Contains(re.Msg, "Python 3.7.16 ("+old+")") || !strings.Contains(re.Hint, "VPT_PYTHON") {
			t.Fatalf("message %q, hint %q", re.Msg, re.Hint)
		}
	}
	project := t.TempDir()
	os.MkdirAll(filepath.Join(project, "venv", "bin"), 0o755)
	os.Symlink(old, filepath.Join(project, "venv", "bin", "python"))
	var re *ResolveError
	if _, err := ResolveInterpreter(context.Background(), "python3", project); !errors.As(err, &re) || !strings.Contains(re.Hint, "recreate the project's venv") {
		t.Fatalf("old venv: %v", err)
	}
	if _, err := ResolveInterpreter(context.Background(), filepath.Join(t.TempDir(), "none"), ""); !errors.Is(err, ErrInterpreterMissing) {
		t.Fatalf("missing interpreter: %v", err)
	}
	broken := filepath.Join(t.TempDir(), "python3")
	os.WriteFile(broken, []byte("#!/bin/sh\necho 'pyenv: version 3.99 is not installed' >&2\nexit 1\n"), 0o755)
	if _, err := ResolveInterpreter(context.Background(), broken, ""); !errors.Is(err, ErrInterpreterMissing) || !strings.Contains(err.Error(), "3.99 is not installed") {
		t.Fatalf("broken interpreter: %v", err)
	}
}

// The server takes JSON booleans only for "passed".
func TestPassedMustBeABoolean(t *testing.T) {
	run := &runState{start: time.Now(), open: map[int]*openStep{}}
	call := func(method, params string) string {
		_, err := apiMethods[method].call(context.Background(), run, json.RawMessage(params))
		var ae *APIError
		if errors.As(err, &ae) {
			return ae.Code
		}
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	for _, c := range []struct{ f, params, want string }{
		{"step", `{"name": "s", "passed": "false"}`, CodeBadParams},
		{"step", `{"name": "s", "passed": null}`, CodeBadParams},
		{"step", `{"name": "s", "passed": 0}`, CodeBadParams},
		{"step", `{"name": "s"}`, "ok"},
		{"step", `{"name": "s", "passed": false}`, "ok"},
		{"verdict", `{"passed": "false"}`, CodeBadParams},
		{"verdict", `{"passed": null}`, CodeBadParams},
		{"verdict", `{"passed": 1}`, CodeBadParams},
		{"verdict", `{}`, CodeBadParams},
		{"verdict", `{"passed": true}`, "ok"},
		{"step_end", `{"step_id": 1, "passed": "true"}`, CodeBadParams},
	} {
		if got := call(c.f, c.params); got != c.want {
			t.Errorf("%s: %s, want %s", c.params, got, c.want)
		}
	}
	if len(run.steps) != 2 || run.steps[0].Status != "passed" || run.steps[1].Status != "failed" {
		t.Fatalf("steps %+v", run.steps)
	}
}
