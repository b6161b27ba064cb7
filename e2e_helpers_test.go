package main

// End-to-end tests: they build the vpt binary once and drive it as users
// and CI do, checking exit codes, what goes to stdout (results) and to
// stderr (progress, logs, errors), run folders and store rows. This file
// holds what the tests share: the build, the throwaway project, running
// vpt and asserting on its output, the processes a project started.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/internal/proc"
	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
	_ "github.com/vpt-dev/vpt/store/sqlite"
)

var vptBin string

// TestMain builds vpt once, with the race detector when the tests run
// with it (so the end-to-end tests check vpt's own concurrency too).
// VPT_TEST_BIN runs the tests against another build instead (an older
// vpt, to see a test fail on it).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vpt-e2e-")
	if err != nil {
		panic(err)
	}
	vptBin = filepath.Join(dir, "vpt")
	if bin := os.Getenv("VPT_TEST_BIN"); bin != "" {
		vptBin = bin
	} else {
		args := []string{"build", "-o", vptBin}
		if raceBuild {
			args = append(args, "-race")
		}
		build := exec.Command("go", append(args, ".")...)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			panic("building vpt: " + err.Error())
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixtures is the folder of fixture scripts.
func fixtures(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "executor", "testdata")
}

func fixture(t *testing.T, name string) string { return filepath.Join(fixtures(t), name) }

// project is a throwaway working folder for vpt: its own results, its own
// device locks, no user configuration.
type project struct {
	t   *testing.T
	dir string
	env []string
	bin string // vpt's binary, when not vptBin
}

// exe is the binary the project runs.
func (p *project) exe() string {
	if p.bin != "" {
		return p.bin
	}
	return vptBin
}

func newProject(t *testing.T) *project {
	t.Helper()
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, ".cache"), "VPT_LOCK_DIR=" + filepath.Join(dir, ".locks"),
		"VPT_VIDEO_MODE=off", "LANG=C.UTF-8",
		// A race-detector build sleeps a second before exiting, by default.
		"GORACE=atexit_sleep_ms=0 halt_on_error=1",
		// Every process the project starts inherits it (see processes).
		projectMarker + dir,
	}
	p := &project{t: t, dir: dir, env: env}
	// A test that kills vpt leaves its script running: those processes,
	// and only those, go when the test ends.
	t.Cleanup(p.killProcesses)
	return p
}

// command is vpt with args (and extra environment) in the project, not
// started.
func (p *project) command(extra []string, args ...string) *exec.Cmd {
	cmd := exec.Command(p.exe(), args...)
	cmd.Dir, cmd.Env = p.dir, p.environ(extra...)
	return cmd
}

// environ is the project's environment with extra.
func (p *project) environ(extra ...string) []string {
	return append(append([]string(nil), p.env...), extra...)
}

func (p *project) write(name, content string) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return path
}

type result struct {
	stdout, stderr string
	code           int
}

func (p *project) vpt(args ...string) result {
	p.t.Helper()
	return p.vptEnv(nil, args...)
}

func (p *project) vptEnv(extra []string, args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.exe(), args...)
	cmd.Dir, cmd.Env = p.dir, p.environ(extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("vpt %v: %v", args, err)
	}
	if ctx.Err() != nil {
		p.t.Fatalf("vpt %v did not finish: stderr %s", args, errb.String())
	}
	return result{out.String(), errb.String(), code}
}

func (r result) expect(t *testing.T, code int, contains ...string) {
	t.Helper()
	r.expectIn(t, code, "output", r.stdout+r.stderr, contains)
}

// expectOut checks the exit code and that stdout, where results go, holds
// each string.
func (r result) expectOut(t *testing.T, code int, contains ...string) {
	t.Helper()
	r.expectIn(t, code, "stdout", r.stdout, contains)
}

// expectErr checks the exit code and that stderr, where progress, logs
// and errors go, holds each string.
func (r result) expectErr(t *testing.T, code int, contains ...string) {
	t.Helper()
	r.expectIn(t, code, "stderr", r.stderr, contains)
}

func (r result) expectIn(t *testing.T, code int, stream, text string, contains []string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, c := range contains {
		if !strings.Contains(text, c) {
			t.Fatalf("%s lacks %q\nstdout:\n%s\nstderr:\n%s", stream, c, r.stdout, r.stderr)
		}
	}
}

// notOut fails t if stdout holds any of the strings: what belongs on
// stderr only.
func (r result) notOut(t *testing.T, strs ...string) {
	t.Helper()
	for _, s := range strs {
		if strings.Contains(r.stdout, s) {
			t.Fatalf("stdout holds %q, which belongs on stderr\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

// notErr fails t if stderr holds any of the strings: results, which
// belong on stdout only.
func (r result) notErr(t *testing.T, strs ...string) {
	t.Helper()
	for _, s := range strs {
		if strings.Contains(r.stderr, s) {
			t.Fatalf("stderr holds %q, which belongs on stdout\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

// results returns every row of the project's store.
func (p *project) results() []store.Result {
	p.t.Helper()
	if _, err := os.Stat(filepath.Join(p.dir, "vpt-results", "vpt.db")); err != nil {
		return nil
	}
	st := p.store()
	defer st.Close()
	rows, err := st.ListResults(context.Background(), store.ResultFilter{})
	if err != nil {
		p.t.Fatal(err)
	}
	return rows
}

// store opens the project's store (the default SQLite one) as vpt does,
// its run folders found in the project's results folder; the caller
// closes it.
func (p *project) store() store.Store {
	p.t.Helper()
	results := filepath.Join(p.dir, "vpt-results")
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(results, "vpt.db"))
	if err != nil {
		p.t.Fatal(err)
	}
	return store.Rooted(st, results, false)
}

// only returns the single result of the project, read from its run folder.
func (p *project) only() *store.Result {
	p.t.Helper()
	rows := p.results()
	if len(rows) != 1 {
		p.t.Fatalf("%d results, want 1", len(rows))
	}
	if rows[0].Status == store.StatusRunning {
		p.t.Fatalf("row left running")
	}
	res, err := report.ReadResultJSON(rows[0].RunDir)
	if err != nil {
		p.t.Fatal(err)
	}
	return res
}

func (p *project) noRows() {
	p.t.Helper()
	if rows := p.results(); len(rows) != 0 {
		p.t.Fatalf("%d rows written, want none: %+v", len(rows), rows[0])
	}
	if entries, _ := os.ReadDir(filepath.Join(p.dir, "vpt-results", "runs")); len(entries) != 0 {
		p.t.Fatalf("%d run folders written, want none", len(entries))
	}
}

// background starts vpt with args (and extra environment) in the project and
// returns once its output contains ready. The process is killed at the end
// of the test if the test has not waited for it.
func (p *project) background(t *testing.T, extra []string, ready string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := p.command(extra, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitFor(t, func() bool { return strings.Contains(out.String(), ready) })
	return cmd, out
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func procStat(pid int) (proc.Stat, bool) {
	st, err := proc.Read(pid)
	return st, err == nil
}

// examplesProject copies examples/ into a fresh project, so runs never
// write into the repository.
func examplesProject(t *testing.T) *project {
	t.Helper()
	p := newProject(t)
	if out, err := exec.Command("cp", "-r", "examples/.", p.dir).CombinedOutput(); err != nil {
		t.Fatalf("copy examples: %v %s", err, out)
	}
	os.RemoveAll(filepath.Join(p.dir, "vpt-results"))
	return p
}

// campaignProject has the examples plus scripts that pass, fail, sleep and
// pass on their second try.
func campaignProject(t *testing.T) *project {
	t.Helper()
	p := examplesProject(t)
	p.write("test_scripts/ok.py", "print('ok')\n")
	p.write("test_scripts/bad.py", "print('bad')\nraise SystemExit(1)\n")
	p.write("test_scripts/nap.py", "import sys, time\n_script_args = ['--s:float:0.5']\ns = float(sys.argv[sys.argv.index('--s') + 1]) if '--s' in sys.argv else 0.5\ntime.sleep(s)\n")
	p.write("test_scripts/second_try.py", "import os, sys\nif not os.path.exists('tried'):\n    open('tried', 'w').close()\n    sys.exit(1)\n")
	return p
}

// killWhileRecording kills vpt (kill -9) during a run that records
// video, once it has a segment or two: the run is left abandoned, its
// video as segments.
func (p *project) killWhileRecording(t *testing.T) {
	t.Helper()
	cmd, _ := p.background(t, []string{"VPT_VIDEO_MODE=on"}, "sleeping", "run", fixture(t, "sleep_past_timeout.py"))
	time.Sleep(2500 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
}

func (p *project) campaignSummary(t *testing.T) summary.Summary {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(p.dir, "vpt-results", "campaigns", "*", "summary.json"))
	if len(matches) == 0 {
		t.Fatal("no summary.json")
	}
	// The newest campaign folder.
	var newest string
	var newestTime int64
	for _, m := range matches {
		st, _ := os.Stat(m)
		if st.ModTime().UnixNano() > newestTime {
			newest, newestTime = m, st.ModTime().UnixNano()
		}
	}
	b, _ := os.ReadFile(newest)
	var s summary.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// running tells whether pid is a live process (a zombie is not).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	st, ok := procStat(pid)
	return ok && !st.Zombie()
}

// needTools skips t, or fails it under VPT_REQUIRE_SERVICES=1, unless
// every program is installed.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	testenv.NeedTools(t, tools...)
}

// projectMarker starts the environment entry that marks the processes of
// a project: vpt, its scripts and whatever they start inherit it.
const projectMarker = "VPT_E2E_PROJECT="

// processes returns the live processes the project started: vpt runs,
// their scripts, what those started, even once they have left vpt's
// process groups or outlived it.
func (p *project) processes() []int {
	entries, _ := os.ReadDir("/proc")
	mark := []byte(projectMarker + p.dir + "\x00")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.HasPrefix(env, mark) && !bytes.Contains(env, append([]byte{0}, mark...)) {
			continue
		}
		if running(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killProcesses kills the processes the project started that still run.
func (p *project) killProcesses() {
	for _, pid := range p.processes() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
