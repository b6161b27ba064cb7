package main

// End-to-end tests of the prestarted interpreter (executor/prestart.go): a
// Python script's interpreter starts while the run opens and waits at a
// gate; the script must see what `python -u script.py` gives it, and a run
// that does not open must leave nothing behind.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/report"
)

// what prints what a script sees of how it was started, then fails as
// its argument says.
const what = `import os, sys
print("argv", sys.argv[1:], os.path.basename(sys.argv[0]))
here = os.path.dirname(os.path.realpath(__file__))
print("path", sys.path[0] == here, sys.path.count(here))
print("main", __name__, __file__, __spec__, __cached__, type(__loader__).__name__)
print("globals", sorted(k for k in globals() if not k.startswith("__") and k != "here"))
print("gate", [k for k in os.environ if "BOOT" in k])
def fail(how):
    if how == "raise":
        raise ValueError("boom")
    if how == "exit":
        sys.exit(3)
fail(sys.argv[1])
`

func TestPrestartedScriptSeesWhatPythonGivesIt(t *testing.T) {
	p := newProject(t)
	script := p.write("test_scripts/what.py", what)
	p.write("test_scripts/syntax.py", "print('never')\nx = (\n")
	py := realPython(t)
	for _, c := range []struct {
		name string
		args []string
		code int
		env  string
	}{
		{"what", []string{"raise", "b c"}, 1, ""},
		{"what", []string{"exit"}, 1, ""},
		{"what", []string{"pass"}, 0, ""},
		// No script folder in sys.path (Python 3.11 and later).
		{"what", []string{"pass"}, 0, "PYTHONSAFEPATH=1"},
		{"syntax", nil, 1, ""},
	} {
		path := filepath.Join(p.dir, "test_scripts", c.name+".py")
		direct := exec.Command(py, append([]string{"-u", path}, c.args...)...)
		direct.Dir, direct.Env = p.dir, append(os.Environ(), c.env)
		want, _ := direct.CombinedOutput()
		p.vptEnv([]string{"VPT_PYTHON=" + py, c.env}, append([]string{"run", c.name, "-q", "--"}, c.args...)...).expect(t, c.code)
		got, err := os.ReadFile(filepath.Join(p.dir, "vpt-results", "latest", report.OutputLog))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s %v under vpt:\n%s\nwant, as python -u %s prints it:\n%s", c.name, c.args, got, script, want)
		}
	}
}

// A run whose device is busy never opens: its interpreter, started at the
// gate, exits without running the script, and nothing of it stays.
func TestRunThatDoesNotOpenLeavesNoPrestart(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/hold.py", "import time\nprint('holding', flush=True)\ntime.sleep(30)\n")
	p.write("test_scripts/mark.py", "open('ran.txt', 'w').write('ran')\n")
	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	hold, _ := p.background(t, env, "holding", "run", "hold")
	apiDirs, _ := filepath.Glob(filepath.Join(tmp, "vpt-api-*"))
	p.vptEnv(env, "run", "mark", "--no-wait").expect(t, 3)
	if _, err := os.Stat(filepath.Join(p.dir, "ran.txt")); err == nil {
		t.Fatal("the script ran though its run never opened")
	}
	hidden, _ := filepath.Glob(filepath.Join(p.dir, "vpt-results", "runs", ".*"))
	after, _ := filepath.Glob(filepath.Join(tmp, "vpt-api-*"))
	if len(hidden) > 0 || len(after) != len(apiDirs) {
		t.Fatalf("left behind: %v, API folders %v (before %v)", hidden, after, apiDirs)
	}
	// No interpreter of the refused run is left at its gate.
	waitFor(t, func() bool {
		out, _ := exec.Command("pgrep", "-f", "mark.py").Output()
		return strings.TrimSpace(string(out)) == ""
	})
	hold.Process.Kill()
	hold.Wait()
	time.Sleep(100 * time.Millisecond)
}
