package contain

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/internal/proc"
)

func TestMain(m *testing.M) {
	RunIfSupervisor()
	if os.Getenv("CONTAIN_TEST_PARENT") != "" {
		parent()
	}
	os.Exit(m.Run())
}

// daemons is a script that leaves three processes behind, each detached a
// different way, writes their pids to $PIDS, and then does what $THEN says.
const daemons = `
setsid sh -c 'echo $$ >> "$PIDS"; exec sleep 1000' &
( sh -c 'echo $$ >> "$PIDS"; trap "" TERM; exec sleep 1000' & ) &
sh -c 'echo $$ >> "$PIDS"; exec sleep 1000' &
while [ "$(wc -l < "$PIDS")" -lt 3 ]; do sleep 0.01; done
echo started
eval "$THEN"
`

func start(t *testing.T, then string) (*Supervisor, string, *os.File) {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	exe, _ := os.Executable()
	s, err := Spawn(exe)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	pids := filepath.Join(dir, "pids")
	os.WriteFile(pids, nil, 0o644)
	sh, _ := exec.LookPath("sh")
	pid, err := s.Start(Spec{Argv: []string{sh, "-c", daemons}, Env: []string{"PATH=" + os.Getenv("PATH"), "PIDS=" + pids, "THEN=" + then},
		Dir: dir, Output: out, Grace: 500 * time.Millisecond})
	if err != nil || pid <= 0 {
		t.Fatalf("start: %d %v", pid, err)
	}
	return s, pids, out
}

func waitStarted(t *testing.T, out *os.File) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out.Name())
		if strings.Contains(string(b), "started") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the script did not start: %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive tells whether pid is a running process (a zombie is not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	p, err := proc.Read(pid)
	return err == nil && !p.Zombie()
}

func pidsOf(t *testing.T, file string) []int {
	t.Helper()
	b, _ := os.ReadFile(file)
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	if len(out) != 3 {
		t.Fatalf("pids %q", b)
	}
	return out
}

func noneAlive(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d survived", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestNormalEndStopsLeftovers(t *testing.T) {
	s, pids, _ := start(t, "exit 3")
	ex, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Status.Exited() || ex.Status.ExitStatus() != 3 {
		t.Fatalf("status %v", ex.Status)
	}
	if ex.Leftovers != 3 || !ex.Killed {
		t.Fatalf("leftovers %d killed %v (one ignores SIGTERM)", ex.Leftovers, ex.Killed)
	}
	noneAlive(t, pidsOf(t, pids), 0)
}

func TestSignalReachesTheScriptThenLeftoversStop(t *testing.T) {
	s, pids, out := start(t, "sleep 1000")
	waitStarted(t, out)
	select {
	case <-s.Exited():
		t.Fatal("exited early")
	default:
	}
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ex, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Status.Signaled() || ex.Status.Signal() != syscall.SIGTERM {
		t.Fatalf("status %v", ex.Status)
	}
	noneAlive(t, pidsOf(t, pids), 0)
}

func TestKillStopsEverythingAtOnce(t *testing.T) {
	s, pids, out := start(t, "trap '' TERM INT; while :; do sleep 0.05; done")
	waitStarted(t, out)
	s.Signal(syscall.SIGTERM) // ignored
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	ex, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Status.Signaled() || ex.Status.Signal() != syscall.SIGKILL {
		t.Fatalf("status %v", ex.Status)
	}
	noneAlive(t, pidsOf(t, pids), 0)
}

func TestStartFailureIsReported(t *testing.T) {
	exe, _ := os.Executable()
	s, err := Spawn(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, _ := os.Create(filepath.Join(t.TempDir(), "o"))
	defer out.Close()
	if _, err := s.Start(Spec{Argv: []string{"/nonexistent/prog"}, Output: out}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err %v", err)
	}
}

// parent plays vpt: it starts a contained script, says so, and waits to be
// killed with SIGKILL.
func parent() {
	out, err := os.Create(os.Getenv("CONTAIN_TEST_PARENT"))
	if err != nil {
		os.Exit(2)
	}
	exe, _ := os.Executable()
	s, err := Spawn(exe)
	if err != nil {
		os.Exit(2)
	}
	sh, _ := exec.LookPath("sh")
	if _, err := s.Start(Spec{Argv: []string{sh, "-c", daemons}, Env: []string{"PATH=" + os.Getenv("PATH"),
		"PIDS=" + os.Getenv("PIDS"), "THEN=sleep 1000"}, Output: out, Grace: time.Second}); err != nil {
		os.Exit(2)
	}
	select {}
}

func TestKilledParentLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	os.WriteFile(pids, nil, 0o644)
	outPath := filepath.Join(dir, "output.log")
	exe, _ := os.Executable()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "CONTAIN_TEST_PARENT="+outPath, "PIDS="+pids)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out, _ := os.Open(outPath)
	for out == nil {
		time.Sleep(10 * time.Millisecond)
		out, _ = os.Open(outPath)
	}
	defer out.Close()
	waitStarted(t, out)
	all := pidsOf(t, pids)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	noneAlive(t, all, 5*time.Second)
}

// supervisorPID is the pid of the supervisor process behind a handle.
func supervisorPID(s *Supervisor) int { return s.p.pid }

func runTo(t *testing.T, s *Supervisor, script string) (Exit, string) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "output.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sh, _ := exec.LookPath("sh")
	if _, err := s.Start(Spec{Argv: []string{sh, "-c", script}, Output: out, Grace: time.Second}); err != nil {
		t.Fatal(err)
	}
	ex, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out.Name())
	return ex, string(b)
}

// A run whose script ended on its own gives its supervisor back: the next
// run of the process gets the same one, with nothing of the first left.
func TestSupervisorIsReused(t *testing.T) {
	s, pids, _ := start(t, "exit 0")
	if _, err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	first := supervisorPID(s)
	s.Close()
	noneAlive(t, pidsOf(t, pids), 0)
	exe, _ := os.Executable()
	s2, err := Spawn(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if supervisorPID(s2) != first {
		t.Fatalf("a new supervisor (%d) where %d was idle", supervisorPID(s2), first)
	}
	ex, out := runTo(t, s2, "echo second; exit 4")
	if ex.Status.ExitStatus() != 4 || ex.Leftovers != 0 || out != "second\n" {
		t.Fatalf("second run: %v leftovers %d output %q", ex.Status, ex.Leftovers, out)
	}
	// A request of the first run that comes late reaches nothing.
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
}

// A supervisor that was asked to signal or kill is not given back.
func TestKilledRunsSupervisorEnds(t *testing.T) {
	s, _, out := start(t, "sleep 1000")
	waitStarted(t, out)
	s.Kill()
	s.Wait()
	first := supervisorPID(s)
	s.Close()
	exe, _ := os.Executable()
	s2, err := Spawn(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if supervisorPID(s2) == first {
		t.Fatal("a killed run's supervisor was reused")
	}
}

// An idle supervisor that died is replaced when the next run starts its
// script: the run does not fail for it.
func TestDeadIdleSupervisorIsReplaced(t *testing.T) {
	exe, _ := os.Executable()
	s, err := Spawn(exe)
	if err != nil {
		t.Fatal(err)
	}
	s.Close() // unused: given back
	s2, err := Spawn(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	syscall.Kill(supervisorPID(s2), syscall.SIGKILL)
	ex, out := runTo(t, s2, "echo alive")
	if ex.Status.ExitStatus() != 0 || out != "alive\n" {
		t.Fatalf("after a dead supervisor: %v %q", ex.Status, out)
	}
}

// A run that Warm prepared for uses the supervisor Warm is starting, even
// when that start is not through yet: it does not start a second one (a
// whole vpt process booting beside the run, for nothing).
func TestWarmSupervisorIsTheOneUsed(t *testing.T) {
	for len(spares) > 0 {
		(<-spares).close()
	}
	exe, _ := os.Executable()
	Warm(exe)
	s, err := Spawn(exe)
	if err != nil {
		t.Fatal(err)
	}
	ex, out := runTo(t, s, "echo warm")
	if ex.Status.ExitStatus() != 0 || out != "warm\n" {
		t.Fatalf("run: %v %q", ex.Status, out)
	}
	s.Close()
	time.Sleep(100 * time.Millisecond) // a second start would be through by now
	if n := len(spares); n != 1 {
		t.Fatalf("%d idle supervisors after one warmed run, want 1: a second was started beside the warm one", n)
	}
	(<-spares).close()
}
