package main

// The lab end to end: several `vpt agent` processes on this machine, each
// with its own vpt.yaml of virtual devices, results folder and device
// locks, and coordinators (`vpt campaign --distributed`), all on one real
// PostgreSQL database.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres"
	"github.com/vpt-dev/vpt/store/postgres/pgtest"
)

// labScripts are the scripts every host of a test lab has.
var labScripts = map[string]string{
	"ok.py":  "print('ok')\n",
	"bad.py": "print('bad')\nraise SystemExit(1)\n",
	"nap.py": "import sys, time\n_script_args = ['--s:float:0.5']\ns = float(sys.argv[sys.argv.index('--s') + 1]) if '--s' in sys.argv else 0.5\n" +
		"print('napping', flush=True)\ntime.sleep(s)\n",
	"keys.py": "import vpt\nfor _ in range(4):\n    vpt.press('OK')\n",
}

type testLab struct {
	t     *testing.T
	url   string
	coord *project
}

func newLab(t *testing.T) *testLab {
	t.Helper()
	l := &testLab{t: t, url: pgtest.FreshDB(t)}
	l.coord = l.project()
	return l
}

// project is a host's folder: the lab's scripts, its own results.
func (l *testLab) project() *project {
	p := newProject(l.t)
	for name, body := range labScripts {
		p.write("test_scripts/"+name, body)
	}
	return p
}

type labAgent struct {
	name string
	p    *project
	cmd  *exec.Cmd
	out  *syncBuffer
}

// agent starts `vpt agent --name name` serving devices (YAML list items)
// and waits until it serves.
func (l *testLab) agent(name, devices string, args ...string) *labAgent {
	l.t.Helper()
	return l.agentEnv(name, devices, nil, args...)
}

func (l *testLab) agentEnv(name, devices string, env []string, args ...string) *labAgent {
	l.t.Helper()
	p := l.project()
	p.write("vpt.yaml", "scripts_dir: test_scripts\nresults_dir: results\ndevices:\n"+devices)
	cmd, out := p.background(l.t, env, "serving", append([]string{"agent", "--store", l.url, "--name", name}, args...)...)
	l.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	})
	return &labAgent{name: name, p: p, cmd: cmd, out: out}
}

// stop sends SIGTERM and returns the agent's exit code.
func (a *labAgent) stop() int {
	a.cmd.Process.Signal(syscall.SIGTERM)
	a.cmd.Wait()
	return a.cmd.ProcessState.ExitCode()
}

func (l *testLab) campaign(yaml string, args ...string) result {
	l.t.Helper()
	l.coord.write("c.yaml", yaml)
	return l.coord.vpt(append([]string{"campaign", "c.yaml", "--distributed", "--store", l.url}, args...)...)
}

func (l *testLab) sql() *sql.DB {
	l.t.Helper()
	st, err := postgres.Open(context.Background(), l.url)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { st.Close() })
	return st.SQL()
}

func (l *testLab) store() store.Store {
	l.t.Helper()
	st, err := store.Open(context.Background(), l.url)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { st.Close() })
	return st
}

func (l *testLab) count(q string, args ...any) int {
	l.t.Helper()
	var n int
	if err := l.sql().QueryRow(q, args...).Scan(&n); err != nil {
		l.t.Fatal(err)
	}
	return n
}

// runsOf returns every run of a campaign execution.
func (l *testLab) runsOf(exec string) []store.Result {
	l.t.Helper()
	rows, err := l.store().ListResults(context.Background(), store.ResultFilter{Campaign: exec})
	if err != nil {
		l.t.Fatal(err)
	}
	return rows
}

func entries(n int, entry string) string {
	var b strings.Builder
	for range n {
		b.WriteString("  - " + entry + "\n")
	}
	return b.String()
}

// executionOf reads the execution id a coordinator printed.
func executionOf(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, "campaign_exec_")
	if i < 0 {
		t.Fatalf("no execution id in:\n%s", out)
	}
	id := out[i:]
	if j := strings.IndexAny(id, " \n,)"); j >= 0 {
		id = id[:j]
	}
	return id
}

func waitLong(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const twoDevices = "  - {id: device1, model: virtual, tags: [%s]}\n  - {id: device2, model: virtual, tags: [%s]}\n"

// A pinned entry runs only on its agent's device; a tag entry on any
// device with the tag; a model and an auto entry on any device; vpt agents
// lists the agents and their devices.
func TestLabRouting(t *testing.T) {
	l := newLab(t)
	l.agent("lab-a", fmt.Sprintf(twoDevices, "uhd", "uhd"))
	l.agent("lab-b", fmt.Sprintf(twoDevices, "hd", "hd,spare"))
	r := l.campaign("campaign_id: route\nname: Routing\nscript_configurations:\n" +
		entries(4, "{script_name: ok, device: 'tag:uhd'}") + entries(3, "{script_name: ok, device: hd}") +
		entries(3, "{script_name: ok, device: lab-b/device2}") + entries(3, "{script_name: ok, device: virtual}") +
		entries(3, "{script_name: ok}"))
	r.expect(t, 0, "16 passed")
	sum := l.coord.campaignSummary(t)
	for _, e := range sum.Entries {
		a := e.Attempts[len(e.Attempts)-1]
		want := map[bool]string{}
		switch {
		case e.Index < 4:
			want[strings.HasPrefix(a.Device, "lab-a/")] = "a device of lab-a (tag uhd)"
		case e.Index < 7:
			want[strings.HasPrefix(a.Device, "lab-b/")] = "a device of lab-b (tag hd)"
		case e.Index < 10:
			want[a.Device == "lab-b/device2"] = "lab-b/device2 (pinned)"
		default:
			want[strings.HasPrefix(a.Device, "lab-a/") || strings.HasPrefix(a.Device, "lab-b/")] = "a device of the lab"
		}
		if msg, ok := want[false]; ok {
			t.Errorf("entry %d ran on %s, want %s", e.Index+1, a.Device, msg)
		}
		if a.Host == "" || !strings.HasPrefix(a.Device, a.Host+"/") || a.RunDir == "" {
			t.Errorf("entry %d: host %q, run folder %q", e.Index+1, a.Host, a.RunDir)
		}
		// The path on that host (the same machine here): it named a folder
		// of the coordinator's results, which is not there.
		if _, err := os.Stat(filepath.Join(a.RunDir, report.ReportHTML)); err != nil {
			t.Errorf("entry %d: run folder %s of %s: %v", e.Index+1, a.RunDir, a.Host, err)
		}
	}
	list := l.coord.vpt("agents", "--store", l.url)
	list.expect(t, 0, "lab-a", "lab-b", "uhd", "hd,spare", "idle", "running")
	var agents []struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Devices []struct {
			ID    string   `json:"id"`
			Tags  []string `json:"tags"`
			State string   `json:"state"`
		} `json:"devices"`
	}
	js := l.coord.vpt("agents", "--store", l.url, "--json")
	if err := json.Unmarshal([]byte(js.stdout), &agents); err != nil || len(agents) != 2 || len(agents[1].Devices) != 2 ||
		agents[1].Devices[1].Tags[1] != "spare" {
		t.Fatalf("vpt agents --json: %v\n%s", err, js.stdout)
	}
}

// An idle device that stops answering is found by the agent's own checks
// (not only when a run fails on it): vpt agents shows it down, with why,
// and it shows it idle again once it answers.
func TestLabIdleDeviceThatDiesIsDown(t *testing.T) {
	testenv.NeedTools(t, "ffmpeg", "xdotool", "xdpyinfo")
	l := newLab(t)
	display, server := testenv.Xvfb(t)
	l.agent("desk-a", "  - {id: desk, name: Desk, model: host, display: \""+display+"\"}\n")
	state := func() (string, string) {
		js := l.coord.vpt("agents", "--store", l.url, "--json")
		var agents []struct {
			Devices []struct {
				ID, State, Reason string
			} `json:"devices"`
		}
		if err := json.Unmarshal([]byte(js.stdout), &agents); err != nil || len(agents) != 1 || len(agents[0].Devices) != 1 {
			t.Fatalf("vpt agents --json: %v\n%s", err, js.stdout)
		}
		return agents[0].Devices[0].State, agents[0].Devices[0].Reason
	}
	if st, _ := state(); st != "idle" {
		t.Fatalf("desk is %s before its display went away", st)
	}
	server.Kill()
	server.Wait()
	waitLong(t, 2*time.Minute, func() bool { st, _ := state(); return st == "down" })
	if _, why := state(); why == "" {
		t.Fatal("desk is down with no reason")
	}
	again := exec.Command("Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-noreset")
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Process.Kill(); again.Wait() })
	waitLong(t, 2*time.Minute, func() bool { st, _ := state(); return st == "idle" })
}

// Idle devices pull the next entry: every device of the lab runs some, and
// the faster host runs more.
func TestLabThroughput(t *testing.T) {
	l := newLab(t)
	l.agent("fast", "  - {id: device1, model: virtual}\n  - {id: device2, model: virtual}\n")
	l.agent("slow", "  - {id: device1, model: virtual, key_latency: 400ms}\n  - {id: device2, model: virtual, key_latency: 400ms}\n")
	r := l.campaign("campaign_id: tp\nname: Throughput\nscript_configurations:\n" + entries(16, "{script_name: keys}"))
	r.expect(t, 0, "16 passed")
	per := map[string]int{}
	for _, e := range l.coord.campaignSummary(t).Entries {
		per[e.Attempts[0].Device]++
	}
	for _, d := range []string{"fast/device1", "fast/device2", "slow/device1", "slow/device2"} {
		if per[d] == 0 {
			t.Errorf("%s ran nothing: %v", d, per)
		}
	}
	if per["fast/device1"]+per["fast/device2"] <= per["slow/device1"]+per["slow/device2"] {
		t.Errorf("the fast host did not do more: %v", per)
	}
}

// A campaign resubmitted under the same execution id enqueues nothing
// twice: every attempt has its job and its run already.
func TestLabResubmitIsIdempotent(t *testing.T) {
	l := newLab(t)
	l.agent("lab-a", fmt.Sprintf(twoDevices, "x", "x"))
	yaml := "campaign_id: idem\nname: Idem\nscript_configurations:\n" + entries(5, "{script_name: ok}") + "  - {script_name: bad, retries: 1}\n"
	l.campaign(yaml, "--execution-id", "ci_4242").expect(t, 1, "5 passed, 1 failed")
	runs, jobs := len(l.runsOf("ci_4242")), l.count("SELECT count(*) FROM river_job WHERE args->>'execution_id' = 'ci_4242'")
	if runs != 7 || jobs != 7 {
		t.Fatalf("first submission: %d runs, %d jobs; want 7 (6 entries, one retried)", runs, jobs)
	}
	l.campaign(yaml, "--execution-id", "ci_4242").expect(t, 1, "5 passed, 1 failed")
	if r, j := len(l.runsOf("ci_4242")), l.count("SELECT count(*) FROM river_job WHERE args->>'execution_id' = 'ci_4242'"); r != runs || j != jobs {
		t.Fatalf("the resubmission ran %d more runs and enqueued %d more jobs", r-runs, j-jobs)
	}
}

// The first Ctrl-C of the coordinator stops every remote script (each is
// recorded interrupted on its host), withdraws the queued entries, and
// exits 130.
func TestLabCtrlCCancelsEveryRemoteScript(t *testing.T) {
	l := newLab(t)
	l.agent("lab-a", fmt.Sprintf(twoDevices, "x", "x"))
	l.agent("lab-b", fmt.Sprintf(twoDevices, "x", "x"))
	l.coord.write("c.yaml", "campaign_id: cc\nname: CtrlC\nscript_configurations:\n"+entries(6, "{script_name: nap, parameters: {s: 60}}"))
	cmd, out := l.coord.background(t, nil, "", "campaign", "c.yaml", "--distributed", "--store", l.url)
	waitFor(t, func() bool { return strings.Count(out.String(), "start   nap") == 4 })
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, out.String())
	}
	exec := executionOf(t, out.String())
	runs := l.runsOf(exec)
	if len(runs) != 4 {
		t.Fatalf("%d runs, want the 4 that had started", len(runs))
	}
	for _, r := range runs {
		if r.Status != store.StatusInterrupted || r.CompletedAt == nil || r.ExecutionTimeMs > 30000 {
			t.Errorf("run %s on %s/%s: %s after %d ms", r.ID[:8], r.HostName, r.DeviceID, r.Status, r.ExecutionTimeMs)
		}
	}
	sum := l.coord.campaignSummary(t)
	if got := statuses(sum); strings.Count(got, "interrupted") != 4 || strings.Count(got, "not_run") != 2 {
		t.Fatalf("entries: %s", got)
	}
	// River records the end of a job a moment after its worker returns.
	waitFor(t, func() bool {
		return l.count("SELECT count(*) FROM river_job WHERE args->>'execution_id' = $1 AND state NOT IN ('cancelled', 'completed')", exec) == 0
	})
}

// A Ctrl-C of the coordinator after the agent running an entry was killed:
// the entry ran and its agent died under it, which it says (abandoned),
// rather than "not run"; it is not put back in the queue of a campaign that
// stopped.
func TestLabCtrlCAfterTheAgentDied(t *testing.T) {
	l := newLab(t)
	a := l.agent("victim", "  - {id: device1, model: virtual}\n")
	l.coord.write("c.yaml", "campaign_id: cd\nname: CtrlCDead\nscript_configurations:\n  - {script_name: nap, parameters: {s: 60}}\n")
	cmd, out := l.coord.background(t, nil, "", "campaign", "c.yaml", "--distributed", "--store", l.url)
	waitFor(t, func() bool { return strings.Contains(out.String(), "start   nap") })
	time.Sleep(time.Second) // the script is running on the agent
	a.cmd.Process.Kill()
	a.cmd.Wait()
	cmd.Process.Signal(syscall.SIGINT)
	if code := waitExit(t, cmd, 2*time.Minute); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, out.String())
	}
	if strings.Contains(out.String(), "back to the queue") {
		t.Fatalf("an entry was put back in the queue of a stopped campaign:\n%s", out.String())
	}
	if got := statuses(l.coord.campaignSummary(t)); got != "abandoned" {
		t.Fatalf("entries: %s, want the one that ran abandoned\n%s", got, out.String())
	}
}

// vpt campaign cancel ID, from another host, stops a running distributed
// campaign: its coordinator exits 130.
func TestLabCancelFromAnotherHost(t *testing.T) {
	l := newLab(t)
	l.agent("lab-a", fmt.Sprintf(twoDevices, "x", "x"))
	l.coord.write("c.yaml", "campaign_id: cx\nname: Cancel\nscript_configurations:\n"+entries(4, "{script_name: nap, parameters: {s: 60}}"))
	cmd, out := l.coord.background(t, nil, "start   nap", "campaign", "c.yaml", "--distributed", "--store", l.url)
	exec := executionOf(t, out.String())
	other := l.project()
	other.vpt("campaign", "cancel", exec, "--store", l.url).expect(t, 0, "cancelled 4 job(s)", "campaign "+exec+" cancelled")
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("coordinator exit %d, want 130\n%s", code, out.String())
	}
	for _, r := range l.runsOf(exec) {
		if r.Status != store.StatusInterrupted {
			t.Errorf("run %s: %s", r.ID[:8], r.Status)
		}
	}
}

// SIGTERM drains an agent: its running scripts finish within --drain, or
// are interrupted and their entries go to another agent's devices without
// using a retry; it deregisters and exits 0.
func TestLabAgentDrains(t *testing.T) {
	l := newLab(t)
	a := l.agent("lab-a", fmt.Sprintf(twoDevices, "x", "x"), "--drain", "500ms")
	l.coord.write("c.yaml", "campaign_id: dr\nname: Drain\nscript_configurations:\n"+entries(2, "{script_name: nap, parameters: {s: 5}}"))
	cmd, out := l.coord.background(t, nil, "", "campaign", "c.yaml", "--distributed", "--store", l.url)
	waitFor(t, func() bool { return strings.Count(out.String(), "start   nap") == 2 })
	l.agent("lab-b", fmt.Sprintf(twoDevices, "x", "x"))
	a.cmd.Process.Signal(syscall.SIGTERM)
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("agent: %v\n%s", err, a.out.String())
	}
	if !strings.Contains(a.out.String(), "interrupting 2 running script(s)") {
		t.Fatalf("agent output:\n%s", a.out.String())
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	sum := l.coord.campaignSummary(t)
	for _, e := range sum.Entries {
		if e.Status != store.StatusPassed || len(e.Attempts) != 2 || !strings.HasPrefix(e.Attempts[1].Device, "lab-b/") ||
			!strings.Contains(e.Attempts[0].Error, "lab-a stopped (SIGTERM)") {
			t.Errorf("entry %d: %+v", e.Index, e)
		}
	}
	l.coord.vpt("agents", "--store", l.url).expect(t, 0, "stopped")
}

// A drain lets a script that ends within --drain finish and be recorded.
func TestLabAgentDrainLetsScriptsFinish(t *testing.T) {
	l := newLab(t)
	a := l.agent("lab-a", "  - {id: device1, model: virtual}\n", "--drain", "1m")
	l.coord.write("c.yaml", "campaign_id: df\nname: Finish\nscript_configurations:\n  - {script_name: nap, parameters: {s: 3}}\n")
	cmd, out := l.coord.background(t, nil, "start   nap", "campaign", "c.yaml", "--distributed", "--store", l.url)
	a.stop()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d\n%s\nagent:\n%s", code, out.String(), a.out.String())
	}
}

// kill -9 of an agent mid-run: within the bound the lab takes it for dead,
// the attempt is recorded abandoned with why, the entry runs on another
// agent, and nothing runs twice.
func TestLabAgentKilled(t *testing.T) {
	l := newLab(t)
	victim := l.agent("victim", "  - {id: device1, model: virtual}\n")
	l.coord.write("c.yaml", "campaign_id: k9\nname: Kill\nscript_configurations:\n"+entries(2, "{script_name: nap, parameters: {s: 4}}"))
	cmd, out := l.coord.background(t, nil, "start   nap", "campaign", "c.yaml", "--distributed", "--store", l.url)
	l.agent("survivor", "  - {id: device1, model: virtual}\n")
	killed := time.Now()
	victim.cmd.Process.Kill()
	victim.cmd.Wait()
	cmd.Wait()
	took := time.Since(killed)
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	t.Logf("kill -9 to campaign end: %s", took.Round(time.Millisecond))
	exec := executionOf(t, out.String())
	var abandoned, passed int
	for _, r := range l.runsOf(exec) {
		switch r.Status {
		case store.StatusAbandoned:
			abandoned++
			if r.HostName != "victim" || !strings.Contains(r.ErrorMsg, "stopped heartbeating") {
				t.Errorf("abandoned run: %s, %q", r.HostName, r.ErrorMsg)
			}
		case store.StatusPassed:
			passed++
			if r.HostName != "survivor" && r.HostName != "victim" {
				t.Errorf("passed on %s", r.HostName)
			}
		default:
			t.Errorf("run %s on %s: %s", r.ID[:8], r.HostName, r.Status)
		}
	}
	if abandoned != 1 || passed != 2 {
		t.Fatalf("%d abandoned, %d passed; want 1 and 2 (each entry passed once)", abandoned, passed)
	}
	sum := l.coord.campaignSummary(t)
	requeued := 0
	for _, e := range sum.Entries {
		if e.Status != store.StatusPassed {
			t.Errorf("entry %d: %s", e.Index, e.Status)
		}
		for _, a := range e.Attempts {
			if a.Status == store.StatusAbandoned {
				requeued++
				if !strings.Contains(a.Error, "victim stopped heartbeating") {
					t.Errorf("the abandoned attempt lost its reason: %q", a.Error)
				}
			}
		}
	}
	if requeued != 1 {
		t.Fatalf("%d abandoned attempts in the report", requeued)
	}
	// The abandoned job never runs again.
	if n := l.count(`SELECT count(*) FROM river_job WHERE args->>'execution_id' = $1 AND state IN ('available', 'scheduled', 'retryable')`, exec); n != 0 {
		t.Fatalf("%d jobs could still run", n)
	}
	l.coord.vpt("agents", "--store", l.url).expect(t, 0, "victim", "down")
}

// agentBehindProxy starts an agent with one virtual device that reaches
// the store through a proxy the test can cut; it returns the proxy and
// the agent's output.
func (l *testLab) agentBehindProxy(t *testing.T, name string) (*proxy, *syncBuffer) {
	t.Helper()
	u, _ := url.Parse(l.url)
	px := newProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	cut := l.project()
	cut.write("vpt.yaml", "scripts_dir: test_scripts\nresults_dir: results\ndevices:\n  - {id: device1, model: virtual}\n")
	a, aout := cut.background(t, nil, "serving", "agent", "--store", u.String(), "--name", name)
	t.Cleanup(func() { a.Process.Signal(syscall.SIGTERM); a.Wait() })
	return px, aout
}

// An agent that loses the store for longer than the fencing bound stops
// its own scripts; the lab runs the entry elsewhere; once the store is
// back the agent takes jobs again.
func TestLabStoreOutageFencesTheAgent(t *testing.T) {
	l := newLab(t)
	px, aout := l.agentBehindProxy(t, "cut")
	l.coord.write("c.yaml", "campaign_id: fence\nname: Fence\nscript_configurations:\n  - {script_name: nap, parameters: {s: 45}}\n")
	cmd, out := l.coord.background(t, nil, "start   nap[s=45] on cut/device1", "campaign", "c.yaml", "--distributed", "--store", l.url)
	l.agent("whole", "  - {id: device1, model: virtual}\n")
	px.cut()
	waitLong(t, 30*time.Second, func() bool { return strings.Contains(aout.String(), "stops its 1 running script(s) (fencing)") })
	waitLong(t, 60*time.Second, func() bool { return strings.Contains(out.String(), "start   nap[s=45] on whole/device1") })
	px.mend()
	waitLong(t, 30*time.Second, func() bool { return strings.Contains(aout.String(), "reaches the store again") })
	cmd.Process.Signal(syscall.SIGINT) // the 45 s nap need not end
	cmd.Wait()
	exec := executionOf(t, out.String())
	waitLong(t, 30*time.Second, func() bool {
		for _, r := range l.runsOf(exec) {
			if r.Status == store.StatusRunning {
				return false
			}
		}
		return true
	})
	for _, r := range l.runsOf(exec) {
		if r.HostName == "cut" && r.Status == store.StatusPassed {
			t.Fatalf("the fenced agent's run passed: it ran on unrecorded")
		}
	}
	sum := l.coord.campaignSummary(t)
	first := sum.Entries[0].Attempts[0]
	if first.Device != "cut/device1" || !strings.Contains(first.Error, "cut") {
		t.Fatalf("first attempt: %+v", first)
	}
}

// The jobs an agent fetches the moment the store is back, before its next
// heartbeat clears the fence, are run, not failed for fencing: a short
// outage cost every queued entry its attempts, and the campaign exited 3.
func TestLabJobsAfterTheOutageRun(t *testing.T) {
	l := newLab(t)
	px, aout := l.agentBehindProxy(t, "cut")
	l.coord.write("c.yaml", "campaign_id: back\nname: Back\nscript_configurations:\n  - {script_name: nap, parameters: {s: 20}}\n"+
		entries(4, "{script_name: nap, parameters: {s: 0.2}}"))
	cmd, out := l.coord.background(t, nil, "start   nap[s=20] on cut/device1", "campaign", "c.yaml", "--distributed", "--store", l.url)
	px.cut()
	waitLong(t, 30*time.Second, func() bool { return strings.Contains(aout.String(), "(fencing)") })
	px.mend()
	if code := waitExit(t, cmd, 3*time.Minute); code != 0 {
		t.Fatalf("campaign exit %d\n%s\nthe agent:\n%s", code, out.String(), aout.String())
	}
	sum := l.coord.campaignSummary(t)
	for _, e := range sum.Entries[1:] {
		for _, at := range e.Attempts {
			if at.Status != store.StatusPassed {
				t.Errorf("entry %d, attempt %d: %s %q", e.Index, at.Attempt, at.Status, at.Error)
			}
		}
	}
}

// Two campaigns share the lab at once: both complete, and no device ever
// runs two scripts at a time.
func TestLabTwoCampaignsShareTheAgents(t *testing.T) {
	l := newLab(t)
	l.agent("lab-a", fmt.Sprintf(twoDevices, "x", "x"))
	l.agent("lab-b", fmt.Sprintf(twoDevices, "x", "x"))
	other := l.project()
	yaml := "campaign_id: share%d\nname: Share %d\nscript_configurations:\n" + entries(8, "{script_name: nap, parameters: {s: 0.3}}")
	other.write("c.yaml", fmt.Sprintf(yaml, 2, 2))
	l.coord.write("c.yaml", fmt.Sprintf(yaml, 1, 1))
	done := make(chan result, 1)
	go func() { done <- other.vpt("campaign", "c.yaml", "--distributed", "--store", l.url) }()
	r := l.coord.vpt("campaign", "c.yaml", "--distributed", "--store", l.url)
	r.expect(t, 0, "8 passed")
	(<-done).expect(t, 0, "8 passed")
	rows, err := l.store().ListResults(context.Background(), store.ResultFilter{})
	if err != nil || len(rows) != 16 {
		t.Fatalf("%d runs (%v)", len(rows), err)
	}
	byDevice := map[string][]store.Result{}
	for _, r := range rows {
		byDevice[r.HostName+"/"+r.DeviceID] = append(byDevice[r.HostName+"/"+r.DeviceID], r)
	}
	for dev, runs := range byDevice {
		sort.Slice(runs, func(i, j int) bool { return runs[i].StartedAt.Before(runs[j].StartedAt) })
		for i := 1; i < len(runs); i++ {
			if runs[i].StartedAt.Before(*runs[i-1].CompletedAt) {
				t.Errorf("%s ran %s and %s at once", dev, runs[i-1].ID[:8], runs[i].ID[:8])
			}
		}
	}
}

// A coordinator killed mid-campaign leaves the jobs running; vpt campaign
// attach takes the campaign over and finishes its report and JUnit.
func TestLabCoordinatorKilledAndReattached(t *testing.T) {
	l := newLab(t)
	l.agent("lab-a", fmt.Sprintf(twoDevices, "x", "x"))
	l.coord.write("c.yaml", "campaign_id: att\nname: Attach\nscript_configurations:\n"+entries(4, "{script_name: nap, parameters: {s: 2}}")+
		"  - {script_name: bad}\n")
	cmd, out := l.coord.background(t, nil, "start   nap", "campaign", "c.yaml", "--distributed", "--store", l.url)
	exec := executionOf(t, out.String())
	cmd.Process.Kill()
	cmd.Wait()
	other := l.project()
	r := other.vpt("campaign", "attach", exec, "--store", l.url, "--junit", "junit.xml")
	r.expect(t, 1, "attaching to "+exec, "FAILED Attach: 5 scripts, 4 passed, 1 failed")
	if runs := l.runsOf(exec); len(runs) != 5 {
		t.Fatalf("%d runs, want 5: nothing ran twice", len(runs))
	}
	b, err := os.ReadFile(filepath.Join(other.dir, "junit.xml"))
	if err != nil || strings.Count(string(b), "<testcase ") != 5 {
		t.Fatalf("junit: %v\n%s", err, b)
	}
	sum := other.campaignSummary(t)
	if sum.Campaign.Status != "failed" || len(sum.Entries) != 5 {
		t.Fatalf("summary: %s, %d entries", sum.Campaign.Status, len(sum.Entries))
	}
	other.vpt("campaign", "attach", exec, "--store", l.url).expect(t, 2, "is failed already")
}

// Bad input: a selector no live agent serves, a name a live agent has,
// --distributed or vpt agent with SQLite, agents and databases of another
// schema. Each is refused before anything is enqueued, exit 2.
func TestLabBadInput(t *testing.T) {
	l := newLab(t)
	a := l.agent("lab-a", fmt.Sprintf(twoDevices, "x", "x"))
	r := l.campaign("campaign_id: bad\nname: Bad\nscript_configurations:\n  - {script_name: ok, device: lab-z/device1}\n" +
		"  - {script_name: ok, device: 'tag:nope'}\n  - {script_name: ok, device: lab-a/device7}\n  - {script_name: ok}\n")
	r.expect(t, 2, "c.yaml:4:", "no agent is named lab-z (agents: lab-a)", "no live agent has a healthy device tagged nope",
		"agent lab-a has no device device7 (it has device1, device2)")
	if n := l.count("SELECT count(*) FROM river_job WHERE kind = 'vpt_attempt'"); n != 0 {
		t.Fatalf("%d jobs enqueued for an invalid campaign", n)
	}
	dup := l.project()
	dup.write("vpt.yaml", "devices:\n  - {id: device1, model: virtual}\n")
	dup.vpt("agent", "--store", l.url, "--name", "lab-a").expect(t, 2, "a live agent named lab-a runs on", "another --name")

	sqlite := l.project()
	sqlite.write("c.yaml", "campaign_id: s\nname: S\nscript_configurations:\n  - {script_name: ok}\n")
	sqlite.vpt("campaign", "c.yaml", "--distributed").expect(t, 2, "needs the lab's shared PostgreSQL store, not sqlite://")
	sqlite.write("d.yaml", "campaign_id: s\nname: S\nexecution_config: {distributed: true}\nscript_configurations:\n  - {script_name: ok}\n")
	sqlite.vpt("campaign", "d.yaml").expect(t, 2, "needs the lab's shared PostgreSQL store")
	sqlite.vpt("agent").expect(t, 2, "vpt agent needs the lab's shared PostgreSQL store")

	// An agent of an older vpt (schema 3), heartbeating.
	db := l.sql()
	if _, err := db.Exec(`INSERT INTO vpt_agents (name, host_name, owner, version, schema_version, protocol, state, started_at, heartbeat_at)
		VALUES ('old', 'h', 'x', 'v0.9', 3, 1, 'running', now(), now())`); err != nil {
		t.Fatal(err)
	}
	db.Exec(`INSERT INTO vpt_agent_devices (agent, device_id, model, state, updated_at) VALUES ('old', 'device1', 'virtual', 'idle', now())`)
	l.campaign("campaign_id: o\nname: O\nscript_configurations:\n  - {script_name: ok, device: old/device1}\n").
		expect(t, 2, "agent old runs vpt v0.9 (schema 3", "run the same vpt version on every host")
	l.coord.vpt("agents", "--store", l.url).expect(t, 0, "incompatible (schema 3")
	// A database of a newer vpt.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '099_future.sql', '')`); err != nil {
		t.Fatal(err)
	}
	l.project().vpt("agent", "--store", l.url, "--name", "new").expect(t, 3, "written by a newer vpt (schema version 99")
	if code := a.stop(); code != 0 {
		t.Fatalf("agent exit %d", code)
	}
}

// With upload configured, agents upload every run, and the campaign
// report links the uploaded reports of the runs other hosts made.
func TestLabAgentsUpload(t *testing.T) {
	l := newLab(t)
	env := uploadEnv(t, fmt.Sprintf("lab-%d", time.Now().UnixNano()))
	l.agentEnv("lab-a", fmt.Sprintf(twoDevices, "x", "x"), env, "--upload")
	l.campaign("campaign_id: up\nname: Upload\nscript_configurations:\n"+entries(3, "{script_name: ok}")).expect(t, 0, "3 passed")
	sum := l.coord.campaignSummary(t)
	for _, e := range sum.Entries {
		a := e.Attempts[0]
		if !strings.HasPrefix(a.Report, "http") || a.Host != "lab-a" {
			t.Errorf("entry %d links %q (host %q)", e.Index, a.Report, a.Host)
		}
	}
	for _, r := range l.runsOf(sum.Campaign.ExecutionID) {
		if r.UploadStatus != store.UploadDone {
			t.Errorf("run %s: upload %q", r.ID[:8], r.UploadStatus)
		}
	}
}

// The campaign's time limit holds on every host: the running script is
// stopped by its agent at the limit (timeout), what did not start is not
// run, exit 4.
func TestLabCampaignTimeoutHoldsOnEveryHost(t *testing.T) {
	l := newLab(t)
	l.agent("lab-a", "  - {id: device1, model: virtual}\n")
	start := time.Now()
	r := l.campaign("campaign_id: to\nname: Timeout\nexecution_config: {timeout_minutes: 0.05}\nscript_configurations:\n" +
		entries(3, "{script_name: nap, parameters: {s: 30}}"))
	r.expect(t, 4, "TIMEOUT Timeout")
	if took := time.Since(start); took > 25*time.Second {
		t.Fatalf("the campaign took %s with a 3 s limit", took)
	}
	sum := l.coord.campaignSummary(t)
	// One entry ran into the limit and the others never started; which
	// one ran is the lab's choice (its queue promises no order).
	got := strings.Split(statuses(sum), ",")
	slices.Sort(got)
	if strings.Join(got, ",") != "not_run,not_run,timeout" {
		t.Fatalf("entries: %s", statuses(sum))
	}
	runs := l.runsOf(sum.Campaign.ExecutionID)
	if len(runs) != 1 || runs[0].Status != store.StatusTimeout || runs[0].HostName != "lab-a" {
		t.Fatalf("runs: %+v", runs)
	}
}

// An agent's coming and going is in the event log, for `vpt events` and
// the live view.
func TestLabAgentEvents(t *testing.T) {
	l := newLab(t)
	a := l.agent("lab-ev", fmt.Sprintf(twoDevices, "x", "x"))
	if code := a.stop(); code != 0 {
		t.Fatalf("agent exit %d\n%s", code, a.out.String())
	}
	r := l.coord.vpt("events", "--store", l.url, "--type", "agent.up,agent.down")
	r.expect(t, 0)
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var e store.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if e.Agent != "lab-ev" {
			t.Fatalf("event of agent %q: %s", e.Agent, line)
		}
		kinds = append(kinds, string(e.Type))
	}
	if strings.Join(kinds, ",") != "agent.up,agent.down" {
		t.Fatalf("events %v\n%s", kinds, r.stdout)
	}
}
