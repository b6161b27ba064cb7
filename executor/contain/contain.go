// Package contain runs a script so that no process it starts outlives its
// run: not when it ends normally, not on a timeout or an interrupt, and not
// when vpt itself is killed with SIGKILL.
//
// The mechanism is a small supervisor process, vpt's own binary started in
// supervisor mode, one per run:
//
//   - it marks itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so
//     every process of the script's tree that loses its parent — a
//     double-forked or setsid daemon included — becomes its child instead of
//     init's, and stays findable however it detached;
//   - it starts the script (its own process group, stdin /dev/null, stdout
//     and stderr on the run's output.log) and reports its exit;
//   - once the script has exited it stops every process left in its tree
//     (SIGTERM, then SIGKILL after the grace), and only then says "done";
//   - it holds one end of a socket whose other end only vpt holds: when vpt
//     dies, however it dies, the kernel closes vpt's end, the supervisor
//     reads EOF and kills the whole tree at once before exiting itself.
//
// A process group alone does not hold a tree (setsid leaves it), Pdeathsig
// only covers the direct child, and a cgroup is not writable for most users:
// the subreaper holds them all without privileges. The supervisor runs in
// its own process group, so a Ctrl-C at the terminal reaches vpt (which
// decides what the script gets) and not the supervisor.
//
// Start a supervisor early with Spawn (it boots while the run prepares its
// device), then Start the script on it once.
package contain

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// envSupervise marks a process started as a supervisor.
const envSupervise = "VPT_SUPERVISOR"

// Spec is the script to start.
type Spec struct {
	// Path is the program (a path: the supervisor does no PATH lookup),
	// Argv its arguments, Argv[0] included; an empty Path means Argv[0].
	Path string
	Argv []string
	Env  []string
	Dir  string
	// Output receives the script's stdout and stderr.
	Output *os.File
	// Grace is how long processes the script left behind get between
	// SIGTERM and SIGKILL once it has exited.
	Grace time.Duration
}

// Exit is how a contained script ended.
type Exit struct {
	Status syscall.WaitStatus
	// Leftovers counts processes of the script's tree that still ran when
	// it exited; the supervisor stopped them.
	Leftovers int
	// Killed: some of them needed SIGKILL.
	Killed bool
}

// message is one line of the protocol between vpt and its supervisor
// (JSON, newline-delimited, over a Unix socket pair).
type message struct {
	// vpt -> supervisor
	Start  *startSpec `json:"start,omitempty"`
	Signal int        `json:"signal,omitempty"` // to the script's process group
	Kill   bool       `json:"kill,omitempty"`   // SIGKILL to the whole tree now
	// supervisor -> vpt
	PID       int    `json:"pid,omitempty"`
	Error     string `json:"error,omitempty"`
	Exited    *int   `json:"exited,omitempty"` // wait status of the script
	Leftovers int    `json:"leftovers,omitempty"`
	Killed    bool   `json:"killed,omitempty"`
	Done      bool   `json:"done,omitempty"`
}

type startSpec struct {
	Path    string   `json:"path"`
	Argv    []string `json:"argv"`
	Env     []string `json:"env"`
	Dir     string   `json:"dir"`
	GraceMs int64    `json:"grace_ms"`
}

// Supervisor is a supervisor process, before and while it runs a script.
type Supervisor struct {
	exe  string
	cmd  *exec.Cmd
	conn *net.UnixConn
	enc  *json.Encoder
	wmu  sync.Mutex

	pid    chan startReply
	exited chan struct{}
	done   chan struct{}
	// Set before exited / done close.
	status  syscall.WaitStatus
	exitErr error
	left    int
	killed  bool
}

type startReply struct {
	pid int
	err error
}

// spares holds a supervisor started ahead of need (Warm).
var spares = make(chan *Supervisor, 1)

// Warm starts a supervisor of exe in the background for the next Spawn, so
// that its start (a few milliseconds: it is vpt's binary) overlaps other
// work instead of delaying a script. An unused one ends with this process.
func Warm(exe string) {
	go func() {
		s, err := spawn(exe)
		if err != nil {
			return
		}
		select {
		case spares <- s:
		default:
			s.Close()
		}
	}()
}

// Spawn returns a supervisor of exe (vpt's own binary; in tests, the test
// binary, whose TestMain calls RunIfSupervisor): one Warm started, or a new
// one.
func Spawn(exe string) (*Supervisor, error) {
	select {
	case s := <-spares:
		if s.exe == exe && s.cmd.ProcessState == nil {
			return s, nil
		}
		s.Close()
	default:
	}
	return spawn(exe)
}

func spawn(exe string) (*Supervisor, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("supervisor socket: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "supervisor"), os.NewFile(uintptr(fds[1]), "supervisor-end")
	defer theirs.Close()
	fc, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("supervisor socket: %w", err)
	}
	conn := fc.(*net.UnixConn)
	cmd := exec.Command(exe)
	cmd.Env = []string{envSupervise + "=1"}
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	// Its own group: a Ctrl-C at the terminal is vpt's to handle. No
	// Pdeathsig: it must outlive vpt to clean up after it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("starting the supervisor %s: %w", exe, err)
	}
	s := &Supervisor{exe: exe, cmd: cmd, conn: conn, enc: json.NewEncoder(conn), pid: make(chan startReply, 1),
		exited: make(chan struct{}), done: make(chan struct{})}
	go s.read()
	return s, nil
}

func (s *Supervisor) send(m message, rights []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if rights == nil {
		return s.enc.Encode(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, _, err = s.conn.WriteMsgUnix(append(b, '\n'), rights, nil)
	return err
}

// Start starts the script; it returns its pid (the id of its process group).
func (s *Supervisor) Start(spec Spec) (int, error) {
	m := message{Start: &startSpec{Path: spec.Path, Argv: spec.Argv, Env: spec.Env, Dir: spec.Dir, GraceMs: spec.Grace.Milliseconds()}}
	if err := s.send(m, syscall.UnixRights(int(spec.Output.Fd()))); err != nil {
		return 0, fmt.Errorf("supervisor: %w", err)
	}
	r := <-s.pid
	return r.pid, r.err
}

// Signal sends sig to the script's process group (while it runs), or to
// every process left of its tree (after it exited).
func (s *Supervisor) Signal(sig syscall.Signal) error {
	return s.send(message{Signal: int(sig)}, nil)
}

// Kill sends SIGKILL to every process of the script's tree, now.
func (s *Supervisor) Kill() error { return s.send(message{Kill: true}, nil) }

// Exited is closed when the script itself has exited (its leftovers may
// still be stopping).
func (s *Supervisor) Exited() <-chan struct{} { return s.exited }

// Done is closed when no process of the script's tree is left.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Wait waits for Done and returns how the script ended.
func (s *Supervisor) Wait() (Exit, error) {
	<-s.done
	return Exit{Status: s.status, Leftovers: s.left, Killed: s.killed}, s.exitErr
}

// Close ends the supervisor. Before Done, closing the socket makes it kill
// whatever the script left, as if vpt had died. The supervisor is reaped in
// the background: it has nothing left to say.
func (s *Supervisor) Close() {
	s.conn.Close()
	go func() { _ = s.cmd.Wait() }()
}

// read follows the supervisor's messages until its socket closes.
func (s *Supervisor) read() {
	started, exited := false, false
	finish := func(err error) {
		if !started {
			s.pid <- startReply{err: err}
		}
		if !exited {
			s.exitErr = err
			close(s.exited)
		}
		if s.exitErr == nil && err != nil {
			s.exitErr = err
		}
		close(s.done)
	}
	sc := bufio.NewScanner(s.conn)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			finish(fmt.Errorf("supervisor: %w", err))
			return
		}
		switch {
		case m.Error != "" && !started:
			started = true
			s.pid <- startReply{err: errors.New(m.Error)}
		case m.PID != 0:
			started = true
			s.pid <- startReply{pid: m.PID}
		case m.Exited != nil:
			exited = true
			s.status = syscall.WaitStatus(*m.Exited)
			close(s.exited)
		case m.Done:
			s.left, s.killed = m.Leftovers, m.Killed
			close(s.done)
			return
		}
	}
	finish(errors.New("the supervisor of the script ended unexpectedly"))
}
