package main

// The run lifecycle at its edges: verdicts that cannot lie, nothing that
// outlives its run, evidence that survives crashes, a pool that routes
// around a dead device, one exit-code table at every depth of the CLI.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres/pgtest"
)

func TestVerdictCannotLie(t *testing.T) {
	for _, c := range []struct {
		name, script, reason string
	}{
		{"failed step then pass", "import vpt\nvpt.step('bad', False, 'm')\nvpt.verdict(True)\n", "step 1 (bad) failed"},
		{"fail then pass", "import vpt\nvpt.fail('first')\nvpt.verdict(True)\n", "first"},
		{"pass then crash", "import vpt\nvpt.verdict(True)\nraise RuntimeError('after the pass')\n",
			"the script reported a pass, then ended with exit code 1"},
		{"marker pass then crash", "print('SCRIPT_SUCCESS:true')\nraise SystemExit(2)\n",
			"the script reported a pass, then ended with exit code 2"},
		// Past the first 8 KiB of its line, a false was not seen.
		{"marker false far into a long line", "import json\nprint(json.dumps({'log': 'y' * 8200}), 'SCRIPT_SUCCESS:false')\n",
			"the script printed SCRIPT_SUCCESS:false"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := examplesProject(t)
			p.write("test_scripts/v.py", c.script)
			p.vpt("run", "v").expectOut(t, 1, "FAILED", c.reason)
			if res := p.only(); res.Status != store.StatusFailed || res.Success {
				t.Fatalf("status %s", res.Status)
			}
		})
	}
}

// slowProject has a virtual device whose every key press takes 2 s.
func slowProject(t *testing.T) *project {
	p := examplesProject(t)
	p.write("vpt.yaml", `scripts_dir: test_scripts
userinterfaces_dir: userinterfaces
devices:
  - {id: slow, name: Slow, model: virtual, userinterface: horizon_tv, key_latency: 2s}
`)
	return p
}

// A timeout stops the script's goto mid-way: the run ends within its
// timeout and grace (plus finalisation), with what it did recorded, and the
// device is free at once.
func TestTimeoutStopsAGotoOnASlowDevice(t *testing.T) {
	p := slowProject(t)
	p.write("test_scripts/far.py", "import vpt\nvpt.goto('settings_about')\n")
	start := time.Now()
	p.vptEnv([]string{"VPT_GRACE=1s"}, "run", "far", "--device", "slow", "--timeout", "3s").expectOut(t, 4, "TIMEOUT")
	took := time.Since(start)
	// Before, the goto went on pressing keys after the script was killed
	// and vpt ended after 10.6 s; the bound is timeout + grace + 5 s.
	if took > 9*time.Second {
		t.Fatalf("vpt took %s to end after a 3s timeout", took)
	}
	res := p.only()
	if res.Status != store.StatusTimeout || len(res.Details.Steps) == 0 {
		t.Fatalf("status %s, %d steps", res.Status, len(res.Details.Steps))
	}
	p.vpt("run", fixture(t, "noop.py"), "--device", "slow", "--no-wait").expect(t, 0)
}

// press(times=10**9) on the virtual device went on pressing at full CPU
// for hours after the run's timeout: the loop never looked at the call's
// context. It stops with the script.
func TestTimeoutStopsAPressOfManyTimes(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/many.py", "import vpt\nvpt.call('press', key='OK', times=10**9)\n")
	start := time.Now()
	p.vptEnv([]string{"VPT_GRACE=1s"}, "run", "many", "--timeout", "2s").expectOut(t, 4, "TIMEOUT")
	if took := time.Since(start); took > 60*time.Second {
		t.Fatalf("vpt took %s to end after a 2s timeout", took)
	}
}

// leaver starts two daemons that leave the script's process group
// (setsid, and a double fork), writing their pids to pids.txt and a line a
// second to the run's output; then does what its argument says.
const leaver = `import os, subprocess, sys, time
pids = open(os.path.join(os.environ["PROJECT_ROOT"], "pids.txt"), "w")
d1 = subprocess.Popen(["setsid", "sh", "-c", "while :; do echo daemon1; sleep 0.2; done"])
pids.write("%d\n" % d1.pid)
pids.flush()
r, w = os.pipe()
if os.fork() == 0:
    if os.fork() == 0:
        os.write(w, str(os.getpid()).encode())
        while True:
            print("daemon2", flush=True)
            time.sleep(0.2)
    os._exit(0)
os.close(w)
pids.write(os.read(r, 32).decode() + "\n")
pids.close()
print("daemons started", flush=True)
what = sys.argv[1] if len(sys.argv) > 1 else "end"
if what == "sleep":
    time.sleep(600)
`

func daemonPids(t *testing.T, p *project) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "pids.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	if len(out) != 2 {
		t.Fatalf("pids %q", b)
	}
	return out
}

func noneRunning(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, pid := range pids {
		for running(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("process %d outlived the run", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// The output stops growing once the run has ended.
func outputStill(t *testing.T, log string) {
	t.Helper()
	st1, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	st2, _ := os.Stat(log)
	if st2.Size() != st1.Size() {
		t.Fatalf("output.log grew from %d to %d bytes after the run", st1.Size(), st2.Size())
	}
}

func TestNothingOutlivesTheRun(t *testing.T) {
	for _, ending := range []string{"end", "timeout", "interrupt", "kill -9"} {
		t.Run(ending, func(t *testing.T) {
			p := examplesProject(t)
			p.write("test_scripts/leaver.py", leaver)
			args := []string{"run", "leaver", "--", "sleep"}
			switch ending {
			case "end":
				args = []string{"run", "leaver"}
			case "timeout":
				args = []string{"run", "leaver", "--timeout", "2s", "--", "sleep"}
			}
			cmd, out := p.background(t, []string{"VPT_GRACE=1s"}, "daemons started", args...)
			switch ending {
			case "interrupt":
				cmd.Process.Signal(syscall.SIGINT)
			case "kill -9":
				cmd.Process.Signal(syscall.SIGKILL)
			}
			cmd.Wait()
			noneRunning(t, daemonPids(t, p), 5*time.Second)
			if ending == "kill -9" {
				return
			}
			res := p.only()
			if strings.Count(out.String(), "daemon") == 0 || !strings.Contains(out.String(), "process(es) running; vpt stopped them") {
				t.Fatalf("output:\n%s", out.String())
			}
			outputStill(t, filepath.Join(res.RunDir, "output.log"))
		})
	}
}

// vpt's stdout closed early (`vpt run lines.py | head -2`): the run goes on
// and is recorded whole.
func TestClosedOutputPipe(t *testing.T) {
	p := newProject(t)
	script := p.write("lines.py", "import time\nfor i in range(200):\n    print('line', i, flush=True)\n    time.sleep(0.005)\n")
	cmd := p.command(nil, "run", script)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	for range 2 {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	stdout.Close()
	err := cmd.Wait()
	if err != nil {
		t.Fatalf("vpt ended with %v after its stdout closed", err)
	}
	res := p.only()
	log, _ := os.ReadFile(filepath.Join(res.RunDir, "output.log"))
	if res.Status != store.StatusPassed || strings.Count(string(log), "line ") != 200 {
		t.Fatalf("status %s, %d lines in output.log", res.Status, strings.Count(string(log), "line "))
	}
}

// killAtResultJSON starts a run and SIGKILLs vpt as soon as its result.json
// appears, between the run's files and its row.
func killAtResultJSON(t *testing.T, p *project, extra []string, args ...string) {
	t.Helper()
	killAtNewResultJSON(t, p, map[string]bool{}, args...)
}

// killAtNewResultJSON is killAtResultJSON for a project with earlier runs,
// those in seen (by id).
func killAtNewResultJSON(t *testing.T, p *project, seen map[string]bool, args ...string) {
	t.Helper()
	cmd, _ := p.background(t, nil, "", args...)
	runs := filepath.Join(p.dir, "vpt-results", "runs")
	deadline := time.Now().Add(60 * time.Second)
	for {
		matches, _ := filepath.Glob(filepath.Join(runs, "*", report.ResultJSON))
		fresh := 0
		for _, m := range matches {
			if !seen[filepath.Base(filepath.Dir(m))] {
				fresh++
			}
		}
		if fresh > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no result.json")
		}
		time.Sleep(200 * time.Microsecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// A vpt killed between writing result.json and updating the row: the next
// vpt records the complete result, not "abandoned", and keeps the video.
func TestRecoveryKeepsACompleteResult(t *testing.T) {
	p := examplesProject(t)
	p.env = append(p.env, "VPT_VIDEO_MODE=on")
	killAtResultJSON(t, p, nil, "run", "goto", "--", "--node", "live")
	files, _ := filepath.Glob(filepath.Join(p.dir, "vpt-results", "runs", "*"))
	before, err := report.ReadResultJSON(files[0])
	if err != nil {
		t.Fatal(err)
	}
	p.vpt("report", "list").expect(t, 0)
	res := p.only()
	after, _ := report.ReadResultJSON(res.RunDir)
	if res.Status != store.StatusPassed || after.Status != store.StatusPassed || len(res.Details.Steps) != len(before.Details.Steps) {
		t.Fatalf("recovered as %s (file %s), %d steps of %d", res.Status, after.Status, len(res.Details.Steps), len(before.Details.Steps))
	}
	if v := res.Details.Video; v == nil || v.Path != report.VideoMP4 {
		t.Fatalf("video lost: %+v", v)
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, report.ReportHTML)); err != nil {
		t.Fatal("no report.html")
	}
}

// A run in another PID namespace is alive for a vpt outside it, even with
// the same host name and a pid that means nothing here.
func TestLiveRunInAnotherPIDNamespace(t *testing.T) {
	needTools(t, "unshare")
	p := newProject(t)
	args := []string{"--pid", "--fork", "--mount-proc", "--kill-child"}
	if os.Getuid() != 0 {
		args = append([]string{"--user", "--map-root-user", "--mount"}, args...)
	}
	args = append(args, vptBin, "run", fixture(t, "sleep_past_timeout.py"))
	cmd := exec.Command("unshare", args...)
	cmd.Dir, cmd.Env = p.dir, p.environ("VPT_VIDEO_MODE=on")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "sleeping") })
	p.vpt("report", "list").expect(t, 0)
	rows := p.results()
	if len(rows) != 1 || rows[0].Status != store.StatusRunning {
		t.Fatalf("the live run was recovered: %+v", rows)
	}
	if _, err := os.Stat(filepath.Join(rows[0].RunDir, "video")); err != nil {
		t.Fatalf("the live run's video folder is gone: %v", err)
	}
}

// A campaign killed with SIGKILL: the next vpt finishes its row, links and
// finishes its in-flight run, and writes its report.
func TestKilledCampaignIsRecovered(t *testing.T) {
	p := campaignProject(t)
	p.write("test_scripts/slow.py", "import time\nprint('slow started', flush=True)\ntime.sleep(600)\n")
	p.write("c.yaml", "campaign_id: k\nname: Killed\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: slow}\n  - {script_name: ok}\n")
	cmd, _ := p.background(t, nil, "start   slow", "campaign", "c.yaml")
	// Killed once slow's entry links its run (the run's row comes first).
	st := p.store()
	defer st.Close()
	waitFor(t, func() bool {
		list, _ := st.ListCampaigns(t.Context(), store.CampaignFilter{CampaignID: "k"})
		if len(list) != 1 {
			return false
		}
		_, entries, _ := st.GetCampaign(t.Context(), list[0].ID)
		return len(entries) == 2 && entries[1].ScriptResultID != ""
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	p.vpt("report", "list").expectErr(t, 0, "campaign")
	list, _ := st.ListCampaigns(t.Context(), store.CampaignFilter{CampaignID: "k"})
	if len(list) != 1 || list[0].Status != "abandoned" {
		t.Fatalf("campaign rows: %+v", list)
	}
	// The entry that never started is not_run, as in a stopped campaign:
	// the reports list every entry of the file.
	_, entries, _ := st.GetCampaign(t.Context(), list[0].ID)
	if len(entries) != 3 || entries[1].ScriptResultID == "" || entries[1].Status != store.StatusAbandoned ||
		entries[2].Status != store.StatusNotRun || entries[2].ScriptName != "ok" {
		t.Fatalf("entries: %+v", entries)
	}
	dir := list[0].ReportDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(p.dir, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, report.CampaignHTML)); err != nil {
		t.Fatalf("no campaign report: %v", err)
	}
	if s := p.campaignSummary(t); statuses(s) != "passed,abandoned,not_run" {
		t.Fatalf("summary.json entries: %s", statuses(s))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, report.JUnitXML)); !strings.Contains(string(b), `tests="3"`) {
		t.Fatalf("junit.xml:\n%s", b)
	}
}

// A campaign killed after its run's row was written but before its entry
// was (the window the kernel can close at any moment; a trigger holds it
// open here) is recovered with that entry abandoned and linked to the run,
// not as an entry that never ran.
func TestCampaignKilledBeforeTheEntry(t *testing.T) {
	p := campaignProject(t)
	p.write("test_scripts/slow.py", "import time\ntime.sleep(600)\n")
	p.write("c.yaml", "campaign_id: w\nname: Window\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: slow}\n")
	p.vpt("run", "ok").expect(t, 0)
	db := filepath.Join(p.dir, "vpt-results", "vpt.db")
	hold := `CREATE TRIGGER hold BEFORE INSERT ON campaign_script_results WHEN NEW.script_name = 'slow'
		BEGIN SELECT RAISE(ABORT, 'held by the test'); END;`
	if out, err := exec.Command("sqlite3", db, hold).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	cmd, _ := p.background(t, nil, "", "campaign", "c.yaml")
	var slow string
	waitFor(t, func() bool {
		for _, r := range p.results() {
			if r.ScriptName == "slow" {
				slow = r.ID
			}
		}
		return slow != ""
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	p.killProcesses()
	if out, err := exec.Command("sqlite3", db, "DROP TRIGGER hold").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	p.vpt("report", "list").expect(t, 0)
	st := p.store()
	defer st.Close()
	list, _ := st.ListCampaigns(t.Context(), store.CampaignFilter{CampaignID: "w"})
	if len(list) != 1 || list[0].Status != "abandoned" {
		t.Fatalf("campaign rows: %+v", list)
	}
	_, entries, _ := st.GetCampaign(t.Context(), list[0].ID)
	if len(entries) != 2 || entries[1].Status != store.StatusAbandoned || entries[1].ScriptResultID != slow || entries[1].RunDir == "" {
		t.Fatalf("entries: %+v", entries)
	}
	if s := p.campaignSummary(t); statuses(s) != "passed,abandoned" {
		t.Fatalf("summary.json entries: %s", statuses(s))
	}
}

// Ctrl-C sent to vpt's whole process group (a terminal, GNU timeout, a CI
// runner) while the video is being finalised does not lose the video, and
// vpt says why the run still passes: the script had already ended.
func TestGroupInterruptDuringFinalisation(t *testing.T) {
	p := newProject(t)
	script := p.write("three.py", "import time\ntime.sleep(3)\nprint('done', flush=True)\n")
	cmd := p.command([]string{"VPT_VIDEO_MODE=on", "VPT_VIDEO_QUALITY=high"}, "run", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(p.dir, "vpt-results", "runs", "*", "video.mp4.part"))
		return len(m) > 0
	})
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	cmd.Wait()
	res := p.only()
	if v := res.Details.Video; v == nil || v.State != "finalised" || res.Status != store.StatusPassed {
		t.Fatalf("status %s, video %+v\n%s", res.Status, res.Details.Video, out.String())
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, report.VideoMP4)); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "the script had ended; its verdict stands") || strings.Contains(s, "kill the scripts") {
		t.Fatalf("a Ctrl-C after the script ended should say its verdict stands, not offer to kill it:\n%s", s)
	}
}

// fullDisk gives the project a results folder on a tiny file system that
// is full: a tmpfs, mounted as root or in a user namespace.
func fullDisk(t *testing.T, p *project) (results string) {
	t.Helper()
	results = filepath.Join(p.dir, "full")
	os.MkdirAll(results, 0o755)
	asRoot := func(args ...string) *exec.Cmd {
		if os.Getuid() == 0 {
			return exec.Command(args[0], args[1:]...)
		}
		return exec.Command("sudo", append([]string{"-n"}, args...)...)
	}
	mount := asRoot("mount", "-t", "tmpfs", "-o", "size=512k,mode=1777", "tmpfs", results)
	if out, err := mount.CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs (as root, or with sudo -n): %v %s", err, out)
	}
	t.Cleanup(func() { asRoot("umount", "-l", results).Run() })
	os.MkdirAll(filepath.Join(results, "runs"), 0o755)
	f, _ := os.Create(filepath.Join(results, "filler"))
	io.Copy(f, io.LimitReader(zeros{}, 1<<20))
	f.Close()
	return results
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func TestFullResultsDisk(t *testing.T) {
	for _, c := range []struct{ name, script string }{
		{"the run's files", "print('hello')\n"},
		{"the script's own output", "import sys\nfor i in range(100000):\n    print('x' * 200)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newProject(t)
			results := fullDisk(t, p)
			script := p.write("s.py", c.script)
			db := filepath.Join(p.dir, "db", "vpt.db")
			os.MkdirAll(filepath.Dir(db), 0o755)
			r := p.vpt("run", script, "--results-dir", results, "--store", "sqlite://"+db)
			r.expectOut(t, 3, "ERROR")
			if !strings.Contains(r.stdout+r.stderr, "no space left on device") && !strings.Contains(r.stdout+r.stderr, "is full") {
				t.Fatalf("the reason does not say the disk is full:\n%s%s", r.stdout, r.stderr)
			}
			st, _ := store.Open(t.Context(), "sqlite://"+db)
			defer st.Close()
			rows, _ := st.ListResults(t.Context(), store.ResultFilter{})
			if len(rows) != 1 || rows[0].Status != store.StatusError {
				t.Fatalf("rows %+v", rows)
			}
		})
	}
}

// Two environments of one machine (a cron job, a login shell: other
// XDG_RUNTIME_DIR, nothing else shared) lock the same device.
func TestDeviceLockAcrossEnvironments(t *testing.T) {
	p := newProject(t)
	id := fmt.Sprintf("lockprobe%d", os.Getpid())
	p.write("vpt.yaml", "devices:\n  - {id: "+id+", name: Probe, model: virtual}\n")
	var env []string
	for _, kv := range p.env {
		if !strings.HasPrefix(kv, "VPT_LOCK_DIR=") {
			env = append(env, kv)
		}
	}
	p.env = env
	cmd, _ := p.background(t, []string{"XDG_RUNTIME_DIR=" + t.TempDir()}, "sleeping", "run", fixture(t, "sleep_past_timeout.py"), "--device", id)
	defer func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() }()
	p.vptEnv([]string{"XDG_RUNTIME_DIR=" + t.TempDir()}, "run", fixture(t, "noop.py"), "--device", id, "--no-wait").
		expectErr(t, 3, "device busy")
}

// A campaign's limit bounds the wait for a busy device: no script starts
// after it.
func TestCampaignDeadlineBoundsTheWaitForADevice(t *testing.T) {
	p := campaignProject(t)
	hold, _ := p.background(t, nil, "sleeping", "run", fixture(t, "sleep_past_timeout.py"))
	defer func() { hold.Process.Signal(syscall.SIGINT); hold.Wait() }()
	p.write("c.yaml", "campaign_id: d\nname: Deadline\ndevice: device1\nexecution_config: {timeout_minutes: 0.05}\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: ok}\n")
	start := time.Now()
	// It says how long it waits; --no-wait is a flag of vpt run only.
	r := p.vpt("campaign", "c.yaml")
	r.expectOut(t, 4, "not run")
	if !strings.Contains(r.stderr, "waiting for it, at most until the campaign's time limit") || strings.Contains(r.stderr, "--no-wait") {
		t.Fatalf("the wait for the device:\n%s", r.stderr)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the campaign took %s with a 3 s limit", took)
	}
	for _, r := range p.results() {
		if r.ScriptName == "ok" {
			t.Fatalf("a script ran after the campaign's limit: %+v", r)
		}
	}
}

// deadDeviceProject is a campaign project with the devices given (YAML
// list items) and dead, an ADB device that does not answer.
func deadDeviceProject(t *testing.T, devices string) *project {
	t.Helper()
	needTools(t, "adb")
	p := campaignProject(t)
	p.write("vpt.yaml", "scripts_dir: test_scripts\nuserinterfaces_dir: userinterfaces\ndevices:\n"+devices+
		"  - {id: dead, name: Gone, model: android_tv, adb: \"127.0.0.1:5599\"}\n")
	return p
}

// A device that does not answer leaves the pool of a parallel campaign;
// its entries go to the healthy device without using up a retry.
func TestDeadDeviceLeavesThePool(t *testing.T) {
	p := deadDeviceProject(t, "  - {id: device1, name: Virtual STB, model: virtual, userinterface: horizon_tv}\n")
	var entries strings.Builder
	for range 6 {
		entries.WriteString("  - {script_name: ok}\n")
	}
	p.write("c.yaml", "campaign_id: pool\nname: Pool\nexecution_config: {parallel: true}\nscript_configurations:\n"+entries.String())
	r := p.vpt("campaign", "c.yaml", "--device", "device1,dead")
	r.expectErr(t, 0, "device dead is down")
	r.expectOut(t, 0, "6 passed")
	sum := p.campaignSummary(t)
	for _, e := range sum.Entries {
		if e.Status != store.StatusPassed {
			t.Fatalf("entry %d: %s", e.Index, e.Status)
		}
	}
	if n := strings.Count(r.stderr, "device dead is down"); n != 1 {
		t.Fatalf("the dead device was reported %d times", n)
	}
}

// A device that fails with no other device to take its entries: the
// progress says what happens (the entry ends; no other device takes it)
// and counts the entry as done.
func TestDeadDeviceAloneIsNoRequeue(t *testing.T) {
	p := deadDeviceProject(t, "")
	p.write("c.yaml", "campaign_id: alone\nname: Alone\ndevice: dead\nscript_configurations:\n  - {script_name: ok, retries: 2}\n  - {script_name: ok, name: second}\n")
	r := p.vpt("campaign", "c.yaml")
	// The entry that never ran is counted, and named as the table names it.
	r.expectErr(t, 3, "error   ok on dead", "[1/2]", "device dead is down", "error   second: no healthy device could run it", "[2/2]")
	for _, false_ := range []string{"another device", "retrying", "its entries go to other devices"} {
		if strings.Contains(r.stderr, false_) {
			t.Fatalf("the progress says %q with no other device:\n%s", false_, r.stderr)
		}
	}
}

// An attempt that fails once the campaign's time is up is its entry's
// last: the progress does not announce a retry that cannot come.
func TestNoRetryAnnouncedPastTheDeadline(t *testing.T) {
	p := campaignProject(t)
	p.write("test_scripts/slow_bad.py", "import time\ntime.sleep(1.5)\nraise SystemExit(1)\n")
	p.write("c.yaml", "campaign_id: late\nname: Late\ndevice: device1\nexecution_config: {timeout_minutes: 0.01}\nscript_configurations:\n  - {script_name: slow_bad, retries: 2}\n")
	r := p.vpt("campaign", "c.yaml")
	r.expectErr(t, 4, "slow_bad on device1", "[1/1]")
	if strings.Contains(r.stderr, "retrying") {
		t.Fatalf("a retry was announced past the deadline:\n%s", r.stderr)
	}
}

// Every command of the tree follows one table, and --json says the code the
// process exits with.
func TestExitCodesAtEveryDepth(t *testing.T) {
	p := newProject(t)
	for _, args := range [][]string{
		{"bogus"}, {"report", "bogus"}, {"ui", "bogus"}, {"report", "list", "extra"}, {"ui", "show"},
		{"run"}, {"report", "show"},
	} {
		r := p.vpt(args...)
		if r.code != 2 {
			t.Errorf("vpt %s: exit %d, want 2\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		j := p.vpt(append(args, "--json")...)
		var e struct {
			ExitCode int `json:"exit_code"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(j.stderr)), &e); err != nil || e.ExitCode != j.code || j.code != 2 {
			t.Errorf("vpt %s --json: exit %d, JSON %q", strings.Join(args, " "), j.code, j.stderr)
		}
	}
	p.vpt("report").expectOut(t, 0, "Usage")
}

// proxy forwards TCP connections to a server; cut drops every connection
// and refuses new ones until mend: a network partition or a restarting
// database, as a store client sees it.
type proxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]bool
}

func newProxy(t *testing.T, upstream string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *proxy) mend() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// A six-second outage of the shared PostgreSQL in the middle of a campaign:
// the campaign waits for it and runs every entry, and its row is finished.
func TestStoreOutageMidCampaign(t *testing.T) {
	url := pgtest.FreshDB(t)
	u, _ := neturl.Parse(url)
	px := newProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	p := campaignProject(t)
	var entries strings.Builder
	for range 9 {
		entries.WriteString("  - {script_name: nap, parameters: {s: 0.4}}\n")
	}
	p.write("c.yaml", "campaign_id: outage\nname: Outage\ndevice: device1\nscript_configurations:\n"+entries.String())
	cmd, out := p.background(t, []string{"VPT_STORE=" + u.String()}, "", "campaign", "c.yaml")
	waitFor(t, func() bool { return strings.Count(out.String(), "passed  nap") >= 2 })
	px.cut()
	time.Sleep(6 * time.Second)
	px.mend()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("campaign: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "9 passed") {
		t.Fatalf("output:\n%s", out.String())
	}
	st, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	list, _ := st.ListCampaigns(t.Context(), store.CampaignFilter{CampaignID: "outage"})
	if len(list) != 1 || list[0].Status != "completed" || list[0].Stats.Passed != 9 {
		t.Fatalf("campaign %+v", list)
	}
}

// rounds is how many times the kill tests repeat (VPT_KILL_ROUNDS; the
// figures of the lifecycle are measured with 20).
func rounds() int {
	if n, err := strconv.Atoi(os.Getenv("VPT_KILL_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 6
}

// vpt killed with SIGKILL at random moments (starting, in the script, while
// finalising and reporting): no process survives, and the next vpt leaves
// no row running, records a finished run from its files, and abandons only
// what had no verdict.
func TestKillAtRandomMoments(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/leaver.py", leaver)
	p.write("test_scripts/work.py", `import os, subprocess, vpt
subprocess.Popen(["setsid", "sh", "-c", "echo $$ >> "+os.path.join(os.environ["PROJECT_ROOT"], "all.txt")+"; exec sleep 600"])
for node in ["live", "guide", "settings", "live"]:
    vpt.goto(node)
with vpt.step("zap"):
    vpt.press("CH_UP")
vpt.screenshot("end")
`)
	counts := map[string]int{}
	n := rounds()
	for i := range n {
		cmd := exec.Command(vptBin, "run", "work")
		cmd.Dir, cmd.Env = p.dir, append(append([]string{}, p.env...), "VPT_VIDEO_MODE=on")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i) * 2500 * time.Millisecond / time.Duration(n))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		before := p.results()
		r := p.vpt("report", "list")
		r.expect(t, 0)
		if strings.Contains(r.stderr, "from its result.json") {
			counts["finished, row recovered from result.json"]++
		}
		after := p.results()
		if len(after) != len(before) {
			t.Fatalf("rows %d -> %d", len(before), len(after))
		}
		outcome := "killed before its row"
		for _, r := range after {
			if r.Status == store.StatusRunning {
				t.Fatalf("round %d: a row is still running after recovery: %+v", i, r)
			}
			file, err := report.ReadResultJSON(r.RunDir)
			if err == nil && file.Status.Final() && file.Status != r.Status {
				t.Fatalf("round %d: row %s, result.json %s", i, r.Status, file.Status)
			}
		}
		if len(after) > counts["rows"] {
			r := after[0]
			for _, x := range after {
				if x.StartedAt.After(r.StartedAt) {
					r = x
				}
			}
			outcome = string(r.Status)
			counts["rows"] = len(after)
		}
		counts[outcome]++
	}
	b, _ := os.ReadFile(filepath.Join(p.dir, "all.txt"))
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
	}
	noneRunning(t, pids, 5*time.Second)
	delete(counts, "rows")
	t.Logf("%d kills: outcomes %v; %d daemons started, none left", n, counts, len(pids))
}

// The crash between result.json and the row, repeated: every one keeps its
// evidence.
func TestCrashBetweenFilesAndRowRepeated(t *testing.T) {
	p := examplesProject(t)
	kept, n := 0, rounds()
	seen := map[string]bool{}
	for range n {
		killAtNewResultJSON(t, p, seen, "run", "goto", "--", "--node", "live")
		p.vpt("report", "list").expect(t, 0)
		for _, r := range p.results() {
			file, err := report.ReadResultJSON(r.RunDir)
			if err != nil || r.Status != file.Status {
				t.Fatalf("row %s, result.json %v (%v)", r.Status, file, err)
			}
			if !seen[r.ID] && r.Status == store.StatusPassed {
				kept++
			}
			seen[r.ID] = true
		}
	}
	if kept != n {
		t.Fatalf("%d of %d crashes kept their evidence", kept, n)
	}
	t.Logf("%d of %d crashes between result.json and the row kept their evidence", kept, n)
}
