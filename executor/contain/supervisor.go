package contain

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// RunIfSupervisor turns this process into a supervisor when it was started
// as one by Spawn, and never returns then. Call it first thing in main (and
// in TestMain of tests that contain scripts).
func RunIfSupervisor() {
	if os.Getenv(envSupervise) != "1" {
		return
	}
	os.Exit(supervise())
}

// sup is the supervisor's state.
type sup struct {
	conn *net.UnixConn
	wmu  sync.Mutex
	enc  *json.Encoder

	mu     sync.Mutex
	leader int  // the script's pid (and process group), 0 before start
	exited bool // the script has been reaped
	kill   bool // SIGKILL everything from now on (asked, or vpt is gone)
	wake   chan struct{}
}

// startReq is a start request with the output descriptor sent along.
type startReq struct {
	spec startSpec
	out  *os.File
}

func supervise() int {
	// Signals meant for vpt's terminal are vpt's to handle. They are caught,
	// not ignored, so the script does not inherit an ignored disposition.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	go func() {
		for range sigs {
		}
	}()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 1
	}
	f := os.NewFile(3, "vpt")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return 1
	}
	// The first start of a process checks once whether pidfds work, with
	// a child of its own: done now, while vpt prepares the run, it is
	// not in the way of the script's start.
	go warmProcessStart()
	s := &sup{conn: fc.(*net.UnixConn), wake: make(chan struct{}, 1)}
	s.enc = json.NewEncoder(s.conn)
	starts := make(chan startReq)
	go s.commands(starts)
	// One script at a time, as many as vpt asks for (a campaign's runs
	// reuse their supervisor): each is over, its whole tree stopped, before
	// the next starts. The channel closes when vpt is gone.
	for st := range starts {
		s.runOne(st)
	}
	return 0
}

// runOne starts a script, reaps it, stops what it left, and says so.
func (s *sup) runOne(st startReq) {
	s.mu.Lock()
	s.leader, s.exited, s.kill = 0, false, false
	s.mu.Unlock()
	pid, err := startScript(st.spec, st.out)
	st.out.Close()
	if err != nil {
		s.reply(message{Error: err.Error()})
		return
	}
	s.mu.Lock()
	s.leader = pid
	s.mu.Unlock()
	s.reply(message{PID: pid})
	status := s.reapUntil(pid)
	code := int(status)
	s.reply(message{Exited: &code})
	left, killed := s.stopTree(time.Duration(st.spec.GraceMs) * time.Millisecond)
	s.reply(message{Done: true, Leftovers: left, Killed: killed})
}

func (s *sup) reply(m message) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.enc.Encode(m) // vpt may be gone; the tree is stopped all the same
}

// commands follows vpt's requests, one JSON line each; a start request
// carries the script's output descriptor (SCM_RIGHTS) with its first
// byte. EOF means vpt is gone: everything is killed and starts closes.
func (s *sup) commands(starts chan<- startReq) {
	defer close(starts)
	defer s.killAll()
	buf := make([]byte, 1<<20)
	oob := make([]byte, syscall.CmsgSpace(4))
	var pending []byte
	var fds []*os.File
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if oobn > 0 {
			fds = append(fds, received(oob[:oobn])...)
		}
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			var m message
			line := pending[:i]
			pending = pending[i+1:]
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			switch {
			case m.Start != nil:
				if len(fds) == 0 {
					s.reply(message{Error: "no output descriptor sent"})
					continue
				}
				out := fds[0]
				fds = fds[1:]
				starts <- startReq{spec: *m.Start, out: out}
			case m.Kill:
				s.killAll()
			case m.Signal != 0:
				s.signal(syscall.Signal(m.Signal))
			}
		}
		if err != nil || n == 0 {
			return
		}
	}
}

// received returns the descriptors a control message passed.
func received(oob []byte) []*os.File {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var out []*os.File
	for i := range msgs {
		fds, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			out = append(out, os.NewFile(uintptr(fd), "output"))
		}
	}
	return out
}

// warmProcessStart makes the os package run its one-time check of pidfd
// support (os.FindProcess runs it too).
func warmProcessStart() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release()
	}
}

func startScript(spec startSpec, out *os.File) (int, error) {
	if len(spec.Argv) == 0 {
		return 0, errors.New("no command")
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	path := spec.Path
	if path == "" {
		path = spec.Argv[0]
	}
	p, err := os.StartProcess(path, spec.Argv, &os.ProcAttr{
		Dir: spec.Dir, Env: spec.Env, Files: []*os.File{null, out, out},
		// Its own group, for the polite signals; SIGKILL if the supervisor
		// itself dies.
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return 0, err
	}
	return p.Pid, nil
}

func (s *sup) killAll() {
	s.mu.Lock()
	s.kill = true
	leader, exited := s.leader, s.exited
	s.mu.Unlock()
	if leader > 0 && !exited {
		_ = syscall.Kill(-leader, syscall.SIGKILL)
	}
	if hasChildren() {
		signalTree(os.Getpid(), syscall.SIGKILL)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sup) signal(sig syscall.Signal) {
	s.mu.Lock()
	leader, exited := s.leader, s.exited
	s.mu.Unlock()
	if leader == 0 {
		return // between scripts
	}
	if !exited {
		// The leader is not reaped yet, so its pid (the group's id) cannot
		// have been reused.
		_ = syscall.Kill(-leader, sig)
		return
	}
	signalTree(os.Getpid(), sig)
}

// reapUntil reaps children (the script, and orphans handed to this
// subreaper) until the script itself has exited.
func (s *sup) reapUntil(leader int) syscall.WaitStatus {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return ws // ECHILD cannot happen before the leader is reaped
		}
		if pid == leader {
			s.mu.Lock()
			s.exited = true
			s.mu.Unlock()
			return ws
		}
	}
}

// stopTree stops every process left in the tree: SIGTERM, then SIGKILL
// after grace (at once when vpt asked or is gone). It returns how many
// processes were left and whether SIGKILL was needed.
func (s *sup) stopTree(grace time.Duration) (left int, killed bool) {
	// No child left means no descendant either: the common case needs no
	// look at /proc.
	if reapAll() {
		return 0, false
	}
	self := os.Getpid()
	left = len(descendants(self))
	signalTree(self, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for !reapAll() {
		s.mu.Lock()
		kill := s.kill
		s.mu.Unlock()
		if kill || time.Now().After(deadline) {
			killed = true
			signalTree(self, syscall.SIGKILL)
		}
		select {
		case <-s.wake:
		case <-time.After(10 * time.Millisecond):
		}
	}
	return left, killed
}

// hasChildren tells whether this process has a child, exited or not,
// without reaping it. None means no descendant either (see reapAll), so
// there is no need to look through /proc: vpt's common exit, between
// scripts, costs the supervisor no listing of every process.
func hasChildren() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != syscall.ECHILD
}

// reapAll reaps every child that has exited; it reports whether no child
// is left at all (so no descendant either: each one's ancestry runs through
// a child of this subreaper).
func reapAll() bool {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.ECHILD:
			return true
		case err != nil || pid == 0:
			return false
		}
	}
}
