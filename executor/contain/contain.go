// Package contain runs a script so that no process it starts outlives its
// run: not when it ends normally, not on a timeout or an interrupt, and not
// when vpt itself is killed with SIGKILL.
//
// The mechanism is a small supervisor process, vpt's own binary started in
// supervisor mode, one script at a time:
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
// device), then Start the script on it once. `vpt run` and `vpt campaign`
// start theirs before the Go runtime does (early.go: booting a Go binary
// of vpt's size is most of a run's fixed cost), and Warm adopts it. When
// the script ended on its own, Close gives the supervisor back, and the
// next Spawn of the process reuses it: a campaign starts one supervisor,
// not one per entry. Each script's tree is stopped whole before the next
// script starts.
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

// Supervisor is a supervisor process as one run sees it: before and while
// it runs that run's script. Its process outlives the handle: Close gives
// a supervisor whose script ended on its own back for the next Spawn (a
// campaign does not start one process per entry); one that was signalled,
// killed or failed ends.
type Supervisor struct {
	p *process

	pid    chan startReply
	exited chan struct{}
	done   chan struct{}
	// Set before exited / done close.
	status  syscall.WaitStatus
	exitErr error
	left    int
	killed  bool

	started bool // Start was sent
	reused  bool // the process ran an earlier run's script
	mu      sync.Mutex
	asked   bool // Signal or Kill was sent
	closed  bool // no request goes out any more: the process may be another run's
}

// process is a supervisor process and the socket to it.
type process struct {
	exe  string
	pid  int
	wait func() error // reaps the process
	conn *net.UnixConn
	enc  *json.Encoder
	wmu  sync.Mutex

	mu   sync.Mutex
	run  *Supervisor // the run its messages are for
	dead bool        // its socket has closed
}

type startReply struct {
	pid  int
	err  error
	lost bool // the supervisor went away without an answer
}

// spares holds idle supervisors given back by a run that is over (Close).
var spares = make(chan *process, 8)

// warming holds the supervisors Warm is starting: each delivers its process
// (nil when it could not start) once.
var (
	warmMu  sync.Mutex
	warming []chan *process
)

// Warm starts a supervisor of exe in the background for the next Spawn, so
// that its start (a few milliseconds: it is vpt's binary) overlaps other
// work instead of delaying a script; the first Warm of `vpt run` or `vpt
// campaign` takes the one started with the process instead (early.go). An
// unused one ends with this process.
func Warm(exe string) {
	ch := make(chan *process, 1)
	warmMu.Lock()
	warming = append(warming, ch)
	warmMu.Unlock()
	if p := adoptEarly(exe); p != nil {
		ch <- p
		return
	}
	go func() {
		p, err := spawn(exe)
		if err != nil {
			p = nil
		}
		ch <- p
	}()
}

// warmed waits for the oldest supervisor Warm is starting; nil when none
// is. Waiting is never slower than starting another: it is the same start,
// begun earlier.
func warmed() *process {
	warmMu.Lock()
	if len(warming) == 0 {
		warmMu.Unlock()
		return nil
	}
	ch := warming[0]
	warming = warming[1:]
	warmMu.Unlock()
	return <-ch
}

// Spawn returns a supervisor of exe (vpt's own binary; in tests, the test
// binary, whose TestMain calls RunIfSupervisor): an idle one, one Warm is
// starting, or a new one.
func Spawn(exe string) (*Supervisor, error) {
	for {
		var p *process
		select {
		case p = <-spares:
		default:
			p = warmed()
		}
		if p == nil {
			break
		}
		if p.exe != exe || p.isDead() {
			p.close()
			continue
		}
		s := p.handle()
		s.reused = true
		return s, nil
	}
	p, err := spawn(exe)
	if err != nil {
		return nil, err
	}
	return p.handle(), nil
}

func (p *process) handle() *Supervisor {
	s := &Supervisor{}
	s.bind(p)
	return s
}

// bind makes s the run p's messages are for, with fresh channels.
func (s *Supervisor) bind(p *process) {
	s.p = p
	s.pid, s.exited, s.done = make(chan startReply, 1), make(chan struct{}), make(chan struct{})
	s.status, s.exitErr = 0, nil
	p.mu.Lock()
	p.run = s
	dead := p.dead
	p.mu.Unlock()
	if dead {
		s.finish(errors.New("the supervisor of the script ended unexpectedly"))
	}
}

// isDead tells whether the supervisor's socket has closed.
func (p *process) isDead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead
}

func spawn(exe string) (*process, error) {
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
	return started(exe, cmd.Process.Pid, conn, cmd.Wait), nil
}

// started is a supervisor process that has been started, reading its
// messages.
func started(exe string, pid int, conn *net.UnixConn, wait func() error) *process {
	p := &process{exe: exe, pid: pid, wait: wait, conn: conn, enc: json.NewEncoder(conn)}
	go p.read()
	return p
}

// adoptEarly is the supervisor that started with this process, before the
// Go runtime (early.go), if there is one; exe is this executable, as the
// constructor found it.
func adoptEarly(exe string) *process {
	fd, pid, ok := early()
	if !ok {
		return nil
	}
	f := os.NewFile(uintptr(fd), "supervisor")
	fc, err := net.FileConn(f)
	f.Close() // the supervisor sees EOF if fc is not made
	if err != nil {
		return nil
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		fc.Close()
		return nil
	}
	return started(exe, pid, fc.(*net.UnixConn), func() error { _, err := proc.Wait(); return err })
}

func (p *process) send(m message, rights []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if rights == nil {
		return p.enc.Encode(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, _, err = p.conn.WriteMsgUnix(append(b, '\n'), rights, nil)
	return err
}

// close ends the supervisor process: closing the socket makes it kill
// whatever a script left, as if vpt had died. It is reaped in the
// background: it has nothing left to say.
func (p *process) close() {
	p.conn.Close()
	go func() { _ = p.wait() }()
}

// Start starts the script; it returns its pid (the id of its process
// group). An idle supervisor that has died since its last run is replaced
// by a new one: the script was not started.
func (s *Supervisor) Start(spec Spec) (int, error) {
	pid, lost, err := s.start(spec)
	if lost && s.reused {
		<-s.done // the old process's reader is through with s
		old := s.p
		old.close()
		p, err2 := spawn(old.exe)
		if err2 != nil {
			return 0, err
		}
		s.reused = false
		s.bind(p)
		pid, _, err = s.start(spec)
	}
	return pid, err
}

// start sends the start request and waits for the answer; lost tells that
// the supervisor went away instead of answering.
func (s *Supervisor) start(spec Spec) (pid int, lost bool, err error) {
	s.started = true
	m := message{Start: &startSpec{Path: spec.Path, Argv: spec.Argv, Env: spec.Env, Dir: spec.Dir, GraceMs: spec.Grace.Milliseconds()}}
	if err := s.p.send(m, syscall.UnixRights(int(spec.Output.Fd()))); err != nil {
		// The reader sees the socket close too, and answers with lost.
		select {
		case r := <-s.pid:
			return 0, r.lost, fmt.Errorf("supervisor: %w", err)
		case <-time.After(2 * time.Second):
			return 0, false, fmt.Errorf("supervisor: %w", err)
		}
	}
	r := <-s.pid
	return r.pid, r.lost, r.err
}

// Signal sends sig to the script's process group (while it runs), or to
// every process left of its tree (after it exited).
func (s *Supervisor) Signal(sig syscall.Signal) error {
	return s.ask(message{Signal: int(sig)})
}

// Kill sends SIGKILL to every process of the script's tree, now.
func (s *Supervisor) Kill() error { return s.ask(message{Kill: true}) }

// ask sends a request about this run's script, unless the run has let its
// supervisor go.
func (s *Supervisor) ask(m message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.asked = true
	return s.p.send(m, nil)
}

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

// Close ends the run's use of its supervisor. Before Done, the supervisor
// process ends, which makes it kill whatever the script left, as if vpt had
// died. A supervisor whose script was never started, or ended on its own
// and was waited for, goes back to the spares for the next run.
func (s *Supervisor) Close() {
	s.mu.Lock()
	closed, asked := s.closed, s.asked
	s.closed = true
	s.mu.Unlock()
	if closed {
		return
	}
	p := s.p
	p.mu.Lock()
	p.run = nil
	p.mu.Unlock()
	reusable := !asked && !p.isDead()
	if s.started {
		select {
		case <-s.done:
			reusable = reusable && s.exitErr == nil
		default:
			reusable = false
		}
	}
	if reusable {
		select {
		case spares <- p:
			return
		default:
		}
	}
	p.close()
}

// finish ends the run's channels that are still open, with err.
func (s *Supervisor) finish(err error) {
	select {
	case s.pid <- startReply{err: err, lost: true}:
	default:
	}
	select {
	case <-s.exited:
	default:
		s.exitErr = err
		close(s.exited)
	}
	select {
	case <-s.done:
	default:
		if s.exitErr == nil {
			s.exitErr = err
		}
		close(s.done)
	}
}

// read follows the supervisor's messages until its socket closes, and
// hands each to the run it is for.
func (p *process) read() {
	sc := bufio.NewScanner(p.conn)
	var err error
	for sc.Scan() {
		var m message
		if err = json.Unmarshal(sc.Bytes(), &m); err != nil {
			err = fmt.Errorf("supervisor: %w", err)
			break
		}
		p.mu.Lock()
		s := p.run
		p.mu.Unlock()
		if s != nil {
			s.deliver(m)
		}
	}
	if err == nil {
		err = errors.New("the supervisor of the script ended unexpectedly")
	}
	p.mu.Lock()
	p.dead = true
	s := p.run
	p.mu.Unlock()
	if s != nil {
		s.finish(err)
	}
}

func (s *Supervisor) deliver(m message) {
	switch {
	case m.Error != "":
		s.pid <- startReply{err: errors.New(m.Error)}
	case m.PID != 0:
		s.pid <- startReply{pid: m.PID}
	case m.Exited != nil:
		s.status = syscall.WaitStatus(*m.Exited)
		close(s.exited)
	case m.Done:
		s.left, s.killed = m.Leftovers, m.Killed
		close(s.done)
	}
}
