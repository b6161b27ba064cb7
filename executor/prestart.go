package executor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vpt-dev/vpt/executor/contain"
)

// A Python script's interpreter starts while its run is being opened.
//
// Python takes 10-20 ms to start, about as long as vpt takes to lock the
// device, make the run folder and commit the store row. So, once the
// supervisor is there, the interpreter is started at once on a boot
// program (bootPython) that waits at a gate, a FIFO only vpt can open:
// the script's first line runs only when vpt has opened the run and
// writes "1" to the gate, exactly where a script started then would begin.
// Everything the script sees is known before the run opens: its
// environment (scriptEnv), its argv, its folder; its output goes to a file
// beside the run folders, moved into the run folder as output.log when the
// folder is made. When the run does not open (the device busy, the store
// away), vpt closes the gate unopened and the interpreter exits without
// running a line of the script.
//
// The boot program makes the script's world the one `python -u script.py`
// gives it: sys.argv, sys.path[0] (the script's folder, symbolic links
// resolved, unless PYTHONSAFEPATH is set), a fresh __main__ with __file__,
// tracebacks without the boot program's frames, and Python's own message
// and exit code 2 for a script it cannot read. The gate's variable is gone
// before the script runs.
//
// Only a supervisor that has not run a script yet gets an interpreter
// before its turn: in a campaign, whose runs after the first reuse their
// supervisor and take 1-2 ms to open, prestarting made the entries slower
// (+15.0 against +13.0 ms each beyond a shell loop over 200 entries, 5
// interleaved rounds), and a fresh one is what `vpt run` has.

// bootGateEnv names the gate in the interpreter's environment.
const bootGateEnv = "VPT_BOOT_GATE"

// bootPython is the boot program, run with -c: argv[1] is the script.
const bootPython = `def _vpt_boot():
    import os, sys
    fd = os.open(os.environ.pop("VPT_BOOT_GATE"), os.O_RDONLY)
    go = os.read(fd, 1)
    os.close(fd)
    if go != b"1":
        os._exit(0)
    del sys.argv[0]
    path = os.path.abspath(sys.argv[0])
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        sys.stderr.write("%s: can't open file %r: [Errno %d] %s\n" % (sys.executable, sys.argv[0], e.errno, e.strerror))
        os._exit(2)
    if not getattr(sys.flags, "safe_path", False):
        sys.path[0] = os.path.dirname(os.path.realpath(path))
    hook = sys.excepthook
    def excepthook(t, v, tb):
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next
        if isinstance(v, BaseException):
            v = v.with_traceback(tb)
        hook(t, v, tb)
    sys.excepthook = excepthook
    import importlib.machinery
    main = sys.modules["__main__"].__dict__
    builtins = main["__builtins__"]
    main.clear()
    main.update(__name__="__main__", __doc__=None, __package__=None, __spec__=None,
                __loader__=importlib.machinery.SourceFileLoader("__main__", path),
                __annotations__={}, __builtins__=builtins, __file__=path, __cached__=None)
    return compile(source, path, "exec", dont_inherit=True), main
exec(*_vpt_boot())
`

// prestarted is a script's interpreter waiting at its gate.
type prestarted struct {
	gate    *os.File // the FIFO, open for reading and writing
	apiDir  string   // holds the gate, then the script API's socket
	control string   // the socket's path (VPT_CONTROL)
	out     *os.File // the script's output, until open moves it
	outPath string
	opened  bool // the output is the run folder's output.log now
	let     bool // the gate was opened
	// started tells how the supervisor's start of the interpreter went;
	// wait reads it once into startErr.
	started  chan error
	waited   bool
	startErr error
}

func (pre *prestarted) wait() error {
	if !pre.waited {
		pre.waited = true
		pre.startErr = <-pre.started
	}
	return pre.startErr
}

// prestart starts the interpreter of a Python script of p under sup,
// waiting at its gate; nil when the script is not Python or anything
// fails (the script then starts the usual way, after the run opens).
func (r *Runner) prestart(p prepared, req Request, sup *contain.Supervisor) *prestarted {
	if sup == nil || !sup.Fresh() || p.python.Path == "" || len(p.argv) < 3 || p.argv[1] != "-u" || !strings.HasSuffix(req.Script.Path, ".py") {
		return nil
	}
	results, err := filepath.Abs(r.Settings.ResultsDir)
	if err != nil {
		return nil
	}
	path, err := exec.LookPath(p.argv[0])
	if err != nil {
		return nil
	}
	pre := &prestarted{}
	if !pre.make(results, p.id) {
		pre.close()
		return nil
	}
	dir := filepath.Join(results, "runs", p.id)
	env := append(r.scriptEnv(p, req, dir, pre.control), bootGateEnv+"="+filepath.Join(pre.apiDir, "gate"))
	argv := append([]string{p.argv[0], "-u", "-c", bootPython}, p.argv[2:]...)
	// The supervisor forks it while vpt opens the run.
	pre.started = make(chan error, 1)
	spec := contain.Spec{Path: path, Argv: argv, Env: env, Output: pre.out, Grace: r.grace()}
	go func() {
		_, err := sup.Start(spec)
		pre.started <- err
	}()
	return pre
}

// make creates the gate, the API folder and the output file.
func (pre *prestarted) make(results, id string) bool {
	dir, err := os.MkdirTemp("", "vpt-api-")
	if err != nil {
		return false
	}
	pre.apiDir, pre.control = dir, filepath.Join(dir, "control.sock")
	gate := filepath.Join(dir, "gate")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		return false
	}
	// Read and write: the interpreter's open never waits for a writer,
	// and the "1" stays in the FIFO until it reads it.
	if pre.gate, err = os.OpenFile(gate, os.O_RDWR, 0); err != nil {
		return false
	}
	runs := filepath.Join(results, "runs")
	if err := os.MkdirAll(runs, 0o755); err != nil {
		return false
	}
	pre.outPath = filepath.Join(runs, "."+id+".output.log")
	pre.out, err = os.OpenFile(pre.outPath, os.O_CREATE|os.O_RDWR|os.O_TRUNC|os.O_APPEND, 0o644)
	return err == nil
}

// moveOutput makes the output the run folder's output.log.
func (pre *prestarted) moveOutput(dir, name string) (*os.File, error) {
	if err := os.Rename(pre.outPath, filepath.Join(dir, name)); err != nil {
		return nil, err
	}
	pre.opened = true
	return pre.out, nil
}

// letGo lets the script run, once its interpreter has started.
func (pre *prestarted) letGo() error {
	if err := pre.wait(); err != nil {
		return err
	}
	pre.let = true
	_, err := pre.gate.Write([]byte("1"))
	return err
}

// close ends the prestart: an interpreter not let go exits at the gate,
// and what the run did not take is removed. The API folder is the API
// server's once it serves.
func (pre *prestarted) close() {
	if pre == nil {
		return
	}
	if pre.started != nil {
		pre.wait() // the supervisor has the output file, or failed
	}
	if pre.gate != nil {
		pre.gate.Close()
	}
	if !pre.opened && pre.out != nil {
		pre.out.Close()
		os.Remove(pre.outPath)
	}
	if !pre.let && pre.apiDir != "" {
		os.RemoveAll(pre.apiDir)
	}
}
