package executor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vpt-dev/vpt/executor/contain"
)

// DefaultGrace is how long a script gets between the polite signal (SIGTERM
// on timeout, SIGINT on Ctrl-C) and SIGKILL.
const DefaultGrace = 10 * time.Second

// Command builds the argv of a script: Python files run with the
// interpreter and -u, executables run as they are, other files run with
// the interpreter of their #! line, shell scripts with sh.
func Command(python string, s Script, args []string) ([]string, error) {
	var argv []string
	switch {
	case strings.HasSuffix(s.Path, ".py"):
		argv = []string{python, "-u", s.Path}
	case isExecFile(s.Path):
		argv = []string{s.Path}
		if err := checkShebang(s.Path); err != nil {
			return nil, err
		}
	default:
		interp := shebang(s.Path)
		if interp == nil && strings.HasSuffix(s.Path, ".sh") {
			interp = []string{"sh"}
		}
		if interp == nil {
			return nil, &ResolveError{Err: ErrNoInterpreter,
				Msg:  fmt.Sprintf("Script %s is not executable and vpt does not know how to run it", s.Path),
				Hint: fmt.Sprintf("make it executable with a #! line (chmod +x %s), or use a .py or .sh file", s.Path)}
		}
		argv = append(interp, s.Path)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		hint := "install it, or set python: in vpt.yaml (or VPT_PYTHON) to an interpreter that exists"
		if argv[0] != python {
			hint = "install it, or fix the #! line of " + s.Path
		}
		return nil, &ResolveError{Err: ErrInterpreterMissing,
			Msg: fmt.Sprintf("Interpreter %q for %s not found", argv[0], filepath.Base(s.Path)), Hint: hint}
	}
	return append(argv, args...), nil
}

// checkShebang finds the interpreter the #! line of an executable script
// names, as the kernel and env(1) would: when it is missing the script
// would fail with exit code 127 (or not start at all) and be recorded as a
// failed run, when the machine, not the script, needs fixing.
func checkShebang(path string) error {
	interp := shebang(path)
	if interp == nil {
		return nil
	}
	missing := func(name string) error {
		return &ResolveError{Err: ErrInterpreterMissing,
			Msg:  fmt.Sprintf("Interpreter %q of the #! line of %s not found", name, filepath.Base(path)),
			Hint: "install it, or fix the #! line of " + path}
	}
	if !isExecFile(interp[0]) {
		return missing(interp[0])
	}
	if filepath.Base(interp[0]) != "env" {
		return nil
	}
	for _, a := range interp[1:] {
		switch {
		case a == "-S" || a == "--split-string":
			continue // the rest is the command, split
		case strings.HasPrefix(a, "-") || strings.Contains(a, "="):
			return nil // env options or variables: too many forms to follow
		}
		if _, err := exec.LookPath(a); err != nil {
			return missing(a)
		}
		return nil
	}
	return nil
}

func isExecFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// shebang returns the interpreter argv of a #! line, or nil.
func shebang(p string) []string {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	if !strings.HasPrefix(line, "#!") {
		return nil
	}
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		return nil
	}
	return fields
}

// Ending is how a script's process ended.
type Ending struct {
	ExitCode int
	// Signal that killed the script, 0 if it exited.
	Signal      syscall.Signal
	TimedOut    bool
	Interrupted bool
	// Killed: vpt had to SIGKILL the script.
	Killed bool
	// Leftovers counts processes the script left running when it exited,
	// which its supervisor stopped.
	Leftovers int
}

// child runs one script process under its supervisor, with its stdout and
// stderr both on out (output.log, opened for appending).
type child struct {
	sup   *contain.Supervisor
	argv  []string
	env   []string
	dir   string
	out   *os.File
	grace time.Duration
	// kill asks for an immediate stop (second Ctrl-C).
	kill <-chan struct{}
	logf func(format string, args ...any)
	// started and exited, when set, are called as soon as the script has
	// started, and as soon as it has exited (before what it left behind
	// is stopped).
	started, exited func()
}

// run starts the script and waits until it and everything it started have
// ended. When ctx ends the script gets the polite signal for the cause —
// SIGTERM for ErrTimedOut, SIGINT for an interrupt — and SIGKILL after the
// grace.
func (c *child) run(ctx context.Context, timeout time.Duration) (Ending, error) {
	if c.sup == nil {
		return Ending{}, errors.New("no supervisor")
	}
	// The script writes straight into output.log: no pipe to copy through,
	// so output costs the script what writing a file costs it, and the file
	// keeps stdout and stderr in the order the script wrote them (both are
	// the one descriptor, appending). vpt follows the file for the
	// terminal. Stdin is /dev/null: a script in a background process group
	// that read the terminal would be stopped.
	// The supervisor starts it without a PATH lookup of its own.
	path, err := exec.LookPath(c.argv[0])
	if err != nil {
		return Ending{}, err
	}
	if _, err := c.sup.Start(contain.Spec{Path: path, Argv: c.argv, Env: c.env, Dir: c.dir, Output: c.out, Grace: c.grace}); err != nil {
		return Ending{}, err
	}
	if c.started != nil {
		c.started()
	}
	var end Ending
	var graceUp <-chan time.Time
	done, kill := ctx.Done(), c.kill
wait:
	for {
		select {
		case <-c.sup.Exited():
			break wait
		case <-done:
			done = nil
			if errors.Is(context.Cause(ctx), ErrTimedOut) {
				end.TimedOut = true
				c.logf("timeout after %s: sending SIGTERM to the script's process group", timeout.Round(time.Millisecond))
				c.sup.Signal(syscall.SIGTERM)
			} else {
				end.Interrupted = true
				c.logf("interrupted: sending SIGINT to the script (press Ctrl-C again to kill it now)")
				c.sup.Signal(syscall.SIGINT)
			}
			graceUp = time.After(c.grace)
		case <-kill:
			kill = nil
			end.Interrupted = end.Interrupted || !end.TimedOut
			end.Killed = true
			c.logf("killing the script and every process it started")
			c.sup.Kill()
		case <-graceUp:
			graceUp = nil
			end.Killed = true
			c.logf("the script did not stop within %s: sending SIGKILL", c.grace)
			c.sup.Kill()
		}
	}
	if c.exited != nil {
		c.exited()
	}
	// The script is gone; its supervisor stops what it left behind. A
	// second Ctrl-C meanwhile makes that immediate.
	go func() {
		select {
		case <-kill:
			c.sup.Kill()
		case <-c.sup.Done():
		}
	}()
	ex, err := c.sup.Wait()
	if err != nil {
		return end, err
	}
	end.Leftovers = ex.Leftovers
	switch ws := ex.Status; {
	case ws.Signaled():
		end.Signal = ws.Signal()
		end.ExitCode = 128 + int(ws.Signal())
	default:
		end.ExitCode = ws.ExitStatus()
	}
	return end, nil
}
