package executor

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	// Killed: vpt had to SIGKILL the group.
	Killed bool
	// Leftovers: processes of the script's group still running after it
	// exited, which vpt stopped.
	Leftovers bool
}

// child runs one script process in its own process group, with its stdout
// and stderr both on out (output.log, opened for appending).
type child struct {
	argv    []string
	env     []string
	dir     string
	out     *os.File
	timeout time.Duration
	grace   time.Duration
	// stop asks for a graceful stop (first Ctrl-C); kill for an immediate one.
	stop, kill <-chan struct{}
	onStart    func(pid int)
	logf       func(format string, args ...any)
}

func (c *child) run() (Ending, error) {
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	// The script writes straight into output.log: no pipe to copy through,
	// so output costs the script what writing a file costs it, and the
	// file keeps stdout and stderr in the order the script wrote them
	// (both are the one descriptor, appending). vpt follows the file for
	// the terminal. Stdin stays closed (/dev/null): a script in a
	// background process group that read the terminal would be stopped.
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return Ending{}, err
	}
	pgid := cmd.Process.Pid
	if c.onStart != nil {
		c.onStart(pgid)
	}

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var end Ending
	var deadline <-chan time.Time
	if c.timeout > 0 {
		t := time.NewTimer(c.timeout)
		defer t.Stop()
		deadline = t.C
	}
	var graceUp <-chan time.Time
	stop, kill := c.stop, c.kill
	var waitErr error
wait:
	for {
		select {
		case waitErr = <-waited:
			break wait
		case <-deadline:
			deadline = nil
			if end.Interrupted {
				continue
			}
			end.TimedOut = true
			c.logf("timeout after %s: sending SIGTERM to the script's process group", c.timeout)
			signalGroup(pgid, syscall.SIGTERM)
			graceUp = time.After(c.grace)
		case <-stop:
			stop = nil
			if end.TimedOut {
				continue
			}
			end.Interrupted = true
			c.logf("interrupted: sending SIGINT to the script (press Ctrl-C again to kill it now)")
			signalGroup(pgid, syscall.SIGINT)
			graceUp = time.After(c.grace)
		case <-kill:
			kill = nil
			end.Interrupted = end.Interrupted || !end.TimedOut
			end.Killed = true
			c.logf("killing the script's process group")
			signalGroup(pgid, syscall.SIGKILL)
		case <-graceUp:
			graceUp = nil
			end.Killed = true
			c.logf("the script did not stop within %s: sending SIGKILL", c.grace)
			signalGroup(pgid, syscall.SIGKILL)
		}
	}
	if ps := cmd.ProcessState; ps != nil {
		ws, _ := ps.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled():
			end.Signal = ws.Signal()
			end.ExitCode = 128 + int(ws.Signal())
		default:
			end.ExitCode = ps.ExitCode()
		}
	} else if waitErr != nil {
		return end, waitErr
	}

	// The leader is gone; stop what it left behind in its group.
	if groupAlive(pgid) {
		end.Leftovers = true
		signalGroup(pgid, syscall.SIGTERM)
		if !waitGroup(pgid, c.grace, kill) {
			signalGroup(pgid, syscall.SIGKILL)
			waitGroup(pgid, time.Second, nil)
		}
	}
	return end, nil
}

func signalGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

// groupAlive reports whether a process of the group still runs. Zombies
// do not count: an orphan that died waits for init to reap it, and some
// init processes (in containers) reap late.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, group, ok := procState(pid)
		if ok && group == pgid && state != 'Z' && state != 'X' {
			return true
		}
	}
	return false
}

// procState reads the state and process group of a process from
// /proc/PID/stat.
func procState(pid int) (state byte, pgid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	fields := strings.Fields(string(b[i+2:]))
	if len(fields) < 3 {
		return 0, 0, false
	}
	g, err := strconv.Atoi(fields[2])
	if err != nil {
		return 0, 0, false
	}
	return fields[0][0], g, true
}

// waitGroup waits up to d for every process of the group to exit; it gives
// up early when kill closes.
func waitGroup(pgid int, d time.Duration, kill <-chan struct{}) bool {
	deadline := time.Now().Add(d)
	for groupAlive(pgid) {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-kill:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true
}
