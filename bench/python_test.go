package bench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Issue "fast by default": import vpt at most 5 ms in the script, with
// PYTHONDONTWRITEBYTECODE set (vpt byte-compiles the library itself).
func BenchmarkImportVpt(b *testing.B) {
	p := newProj(b, "PYTHONDONTWRITEBYTECODE=1")
	p.write(b, "noop.py", "")
	p.timed(b, false, nil, vptBin, "run", "noop.py", "--video", "off", "-q") // unpacks and compiles
	libs, _ := filepath.Glob(filepath.Join(p.dir, ".cache", "vpt", "python", "*"))
	if len(libs) != 1 {
		b.Fatalf("library folders: %v", libs)
	}
	// The same sources without their byte code: what every import cost
	// before vpt compiled them, with PYTHONDONTWRITEBYTECODE.
	bare := filepath.Join(p.dir, "bare")
	src, _ := filepath.Glob(filepath.Join(libs[0], "vpt", "*.py"))
	for _, f := range src {
		data, _ := os.ReadFile(f)
		p.write(b, filepath.Join("bare", "vpt", filepath.Base(f)), string(data))
	}
	importMS := func(path string) float64 {
		out := p.timed(b, false, nil, "env", "PYTHONPATH="+path, python, "-c",
			"import time; t = time.perf_counter(); import vpt; print((time.perf_counter() - t) * 1000)").out
		v, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err != nil {
			b.Fatalf("import vpt: %q", out)
		}
		return v
	}
	var compiled, uncompiled []time.Duration
	for i := 0; i < 30; i++ {
		compiled = append(compiled, time.Duration(importMS(libs[0])*1e6))
		uncompiled = append(uncompiled, time.Duration(importMS(bare)*1e6))
	}
	b.ReportMetric(ms(median(compiled)), "ms-import")
	b.ReportMetric(ms(median(uncompiled)), "ms-import-uncompiled")
}

// pyenvShim matches the shims pyenv writes.
var pyenvShim = regexp.MustCompile(`(?m)^exec "[^"]*pyenv" exec "\$program" "\$@"\s*$`)

// Issue "fast by default": with a pyenv shim as the default python3, vpt
// run adds no more than with the real interpreter configured (it resolves
// the shim once). Uses the machine's pyenv shim when python3 is one, else
// a shim of the same shape in front of the real interpreter.
func BenchmarkRunWithShim(b *testing.B) {
	p := newProj(b, "VPT_SCREENSHOTS_AUTO=false")
	shimEnv := withoutVar(p.env, "VPT_PYTHON")
	shim, ok := machineShim(shimEnv)
	if !ok {
		shim = fakeShim(b, p)
		shimEnv = append(shimEnv, "PATH="+filepath.Dir(shim.path)+":"+os.Getenv("PATH"))
		b.Logf("python3 is no pyenv shim selecting %s: measuring a shim of the same shape, %s", python, shim.path)
	} else if shim.env != "" {
		shimEnv = append(shimEnv, shim.env)
	}
	p.write(b, "noop.py", "")
	direct := p.env
	run := func(env []string, name string, args ...string) time.Duration {
		p.env = env
		defer func() { p.env = direct }()
		return p.timed(b, false, nil, name, args...).wall
	}
	vptRun := []string{"run", "noop.py", "--video", "off", "-q"}
	run(shimEnv, vptBin, vptRun...) // the store, the library, the interpreter cache
	run(direct, vptBin, vptRun...)
	var base, viaShim, throughShim, real []time.Duration
	for i := 0; i < 30; i++ {
		base = append(base, run(direct, python, "noop.py"))
		viaShim = append(viaShim, run(shimEnv, shim.path, "noop.py"))
		throughShim = append(throughShim, run(shimEnv, vptBin, vptRun...))
		real = append(real, run(direct, vptBin, vptRun...))
	}
	b.ReportMetric(ms(median(base)), "ms-python")
	b.ReportMetric(ms(median(viaShim)-median(base)), "ms-shim")
	b.ReportMetric(ms(median(throughShim)-median(base)), "ms-added-shim")
	b.ReportMetric(ms(median(real)-median(base)), "ms-added-direct")
}

func withoutVar(env []string, k string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, k+"=") {
			out = append(out, kv)
		}
	}
	return out
}

type shimChoice struct{ path, env string }

// machineShim is python3 when it is a pyenv shim that selects python (by
// itself, or with PYENV_VERSION=system), so both sides run one interpreter.
func machineShim(env []string) (shimChoice, bool) {
	path, err := exec.LookPath("python3")
	if err != nil {
		return shimChoice{}, false
	}
	if head, _ := os.ReadFile(path); !pyenvShim.Match(head) {
		return shimChoice{}, false
	}
	want, _ := filepath.EvalSymlinks(python)
	for _, extra := range []string{"", "PYENV_VERSION=system"} {
		cmd := exec.Command(path, "-c", "import sys; print(sys.executable)")
		cmd.Env = append(append([]string(nil), env...), extra)
		out, _ := cmd.Output()
		if got, _ := filepath.EvalSymlinks(strings.TrimSpace(string(out))); got != "" && got == want {
			return shimChoice{path, extra}, true
		}
	}
	return shimChoice{}, false
}

// fakeShim writes a pyenv-shaped shim whose `pyenv exec` runs python.
func fakeShim(b *testing.B, p *proj) shimChoice {
	root := filepath.Join(p.dir, "pyenv")
	shim := p.write(b, "pyenv/shims/python3", `#!/usr/bin/env bash
set -e
program="${0##*/}"
export PYENV_ROOT="`+root+`"
exec "`+root+`/libexec/pyenv" exec "$program" "$@"
`)
	pyenv := p.write(b, "pyenv/libexec/pyenv", "#!/usr/bin/env bash\nshift 2\nexport PYENV_VERSION=fake\nexec "+python+" \"$@\"\n")
	for _, f := range []string{shim, pyenv} {
		os.Chmod(f, 0o755)
	}
	if out, err := exec.Command(shim, "-c", "print(1)").CombinedOutput(); err != nil || !bytes.Equal(bytes.TrimSpace(out), []byte("1")) {
		b.Fatalf("fake shim: %v %s", err, out)
	}
	return shimChoice{path: shim}
}
