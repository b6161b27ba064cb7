package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/store"
)

func statuses(s summary.Summary) string {
	var out []string
	for _, e := range s.Entries {
		out = append(out, string(e.Status))
	}
	return strings.Join(out, ",")
}

func TestCampaignBadInputCorpus(t *testing.T) {
	p := campaignProject(t)
	entries, _ := os.ReadDir("campaign/testdata/bad")
	if len(entries) < 25 {
		t.Fatalf("corpus of %d files", len(entries))
	}
	for _, e := range entries {
		path, _ := filepath.Abs(filepath.Join("campaign/testdata/bad", e.Name()))
		t.Run(e.Name(), func(t *testing.T) {
			r := p.vpt("campaign", path)
			r.expectErr(t, 2, e.Name())
		})
	}
	for _, dir := range []string{"vpt-results"} {
		if _, err := os.Stat(filepath.Join(p.dir, dir)); err == nil {
			t.Fatalf("%s was written by a campaign that could not run", dir)
		}
	}
}

func TestCampaignSequential(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: seq
name: Sequential
device: device1
execution_config: {continue_on_failure: false}
script_configurations:
  - {script_name: ok}
  - {script_name: bad}
  - {script_name: ok}
`)
	r := p.vpt("campaign", "c.yaml", "--junit", "out/junit.xml")
	r.expect(t, 1, "FAILED Sequential", "1 passed, 1 failed, 1 not run", "continue_on_failure is false")
	s := p.campaignSummary(t)
	if got := statuses(s); got != "passed,failed,not_run" {
		t.Fatalf("statuses %s", got)
	}
	if s.Campaign.Status != "failed" || s.Campaign.CompletedAt == nil {
		t.Fatalf("campaign %+v", s.Campaign)
	}
	// The campaign is linked to its results.
	var rows []map[string]any
	json.Unmarshal([]byte(p.vpt("report", "list", "--campaign", s.Campaign.ExecutionID, "--json").stdout), &rows)
	if len(rows) != 2 {
		t.Fatalf("%d linked results", len(rows))
	}
	if out, err := exec.Command("xmllint", "--noout", filepath.Join(p.dir, "out", "junit.xml")).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %s", out)
	}
	b, _ := os.ReadFile(filepath.Join(p.dir, "out", "junit.xml"))
	if !strings.Contains(string(b), `tests="3" failures="1" errors="0" skipped="1"`) {
		t.Fatalf("junit counts:\n%s", b)
	}
}

func TestCampaignTimeouts(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: slow
name: Slow
device: device1
execution_config: {timeout_minutes: 0.1}
script_configurations:
  - {script_name: nap, parameters: {s: 0.1}}
  - {script_name: nap, parameters: {s: 0.5}, timeout: 200ms}
  - {script_name: nap, parameters: {s: 30}}
  - {script_name: ok}
`)
	p.vpt("campaign", "c.yaml").expectOut(t, 4, "TIMEOUT Slow")
	s := p.campaignSummary(t)
	if got := statuses(s); got != "passed,timeout,timeout,not_run" {
		t.Fatalf("statuses %s", got)
	}
	if s.Campaign.Status != "timeout" {
		t.Fatalf("campaign status %s", s.Campaign.Status)
	}
	for _, r := range p.results() {
		if r.Status == store.StatusRunning {
			t.Fatal("a row left running")
		}
	}
}

func TestCampaignParallelAndRetries(t *testing.T) {
	p := campaignProject(t)
	p.write("vpt.yaml", `scripts_dir: test_scripts
userinterfaces_dir: userinterfaces
devices:
  - {id: device1, name: Fast, model: virtual, userinterface: horizon_tv}
  - {id: device2, name: Slow, model: virtual, userinterface: horizon_tv, key_latency: 2s}
`)
	p.write("test_scripts/press.py", "import vpt\nvpt.press('OK')\n")
	var entries strings.Builder
	for i := 0; i < 10; i++ {
		entries.WriteString("  - {script_name: press}\n")
	}
	p.write("c.yaml", "campaign_id: par\nname: Parallel\ndevice: auto\nexecution_config: {parallel: true}\nscript_configurations:\n"+entries.String()+
		"  - {script_name: second_try, retries: 1}\n")
	p.vpt("campaign", "c.yaml").expectOut(t, 0, "COMPLETED Parallel", "10 passed, 1 flaky")
	s := p.campaignSummary(t)
	ran := map[string]int{}
	for _, e := range s.Entries {
		for _, a := range e.Attempts {
			ran[a.Device]++
		}
	}
	if ran["device1"] <= ran["device2"] || ran["device2"] == 0 {
		t.Fatalf("the fast device should run more: %v", ran)
	}
	flaky := s.Entries[10]
	if flaky.Status != store.StatusFlaky || len(flaky.Attempts) != 2 || flaky.Attempts[0].Status != store.StatusFailed {
		t.Fatalf("flaky entry %+v", flaky)
	}
	// Every attempt keeps its own run folder and report.
	for _, a := range flaky.Attempts {
		if _, err := os.Stat(filepath.Join(a.RunDir, "report.html")); err != nil {
			t.Fatalf("attempt %d: %v", a.Attempt, err)
		}
	}
	os.Remove(filepath.Join(p.dir, "tried"))
	p.vpt("campaign", "c.yaml", "--fail-on-flaky").expect(t, 1, "flaky")
}

// --parallel 2 over three devices kept the first two: an entry pinned to
// the third was planned for it, then ended in an error (exit 3) with no
// reason. The devices entries pin are kept first; pinning more than
// --parallel allows is refused before anything runs.
func TestParallelKeepsThePinnedDevices(t *testing.T) {
	p := campaignProject(t)
	p.write("vpt.yaml", "scripts_dir: test_scripts\nuserinterfaces_dir: userinterfaces\ndevices:\n"+
		"  - {id: device1, model: virtual}\n  - {id: device2, model: virtual}\n  - {id: device3, model: virtual}\n")
	p.write("c.yaml", `campaign_id: pinned
name: Pinned
device: [device1, device2, device3]
execution_config: {parallel: true}
script_configurations:
  - {script_name: ok, name: any-1}
  - {script_name: ok, name: on-3, device: device3}
  - {script_name: ok, name: any-2}
`)
	p.vpt("campaign", "c.yaml", "--parallel", "2", "--dry-run").expectOut(t, 0, "devices: device1, device3 (parallel on 2 device(s))")
	p.vpt("campaign", "c.yaml", "--parallel", "2").expectOut(t, 0, "3 passed")
	p.write("c.yaml", `campaign_id: pinned
name: Pinned
device: [device1, device2, device3]
execution_config: {parallel: true}
script_configurations:
  - {script_name: ok, device: device2}
  - {script_name: ok, device: device3}
`)
	before := len(p.results())
	p.vpt("campaign", "c.yaml", "--parallel", "1").expectErr(t, 2, "--parallel: 1: the entries pin device2, device3", "give --parallel 2 or more")
	if len(p.results()) != before {
		t.Fatal("a refused campaign ran scripts")
	}
}

func TestCampaignStopsAndReruns(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: mixed
name: Mixed
device: device1
script_configurations:
  - {script_name: bad}
  - {script_name: ok}
  - {script_name: bad}
  - {script_name: ok}
`)
	p.vpt("campaign", "c.yaml", "-x").expectErr(t, 1, "stopping")
	if got := statuses(p.campaignSummary(t)); got != "failed,not_run,not_run,not_run" {
		t.Fatalf("-x: %s", got)
	}
	p.vpt("campaign", "c.yaml").expect(t, 1)
	before := len(p.results())
	r := p.vpt("campaign", "c.yaml", "--last-failed")
	r.expectErr(t, 1, "rerunning 2 script(s)")
	if after := len(p.results()); after != before+2 {
		t.Fatalf("--last-failed ran %d scripts", after-before)
	}
	r = p.vpt("campaign", "c.yaml", "--dry-run", "--device", "device1,device2", "--parallel", "2")
	r.expectOut(t, 0, "devices: device1, device2 (parallel on 2 device(s))", "bad")
	if after := len(p.results()); after != before+2 {
		t.Fatal("--dry-run ran something")
	}
}

func TestCampaignShards(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: sharded
name: Sharded
device: device1
script_configurations:
  - {script_name: ok}
  - {script_name: ok}
  - {script_name: bad}
  - {script_name: ok}
  - {script_name: ok}
`)
	r := p.vpt("campaign", "c.yaml", "--shard", "1/2", "--execution-id", "ci-pipeline-42")
	r.expectOut(t, 1, "shards done: [1] of 2")
	s := p.campaignSummary(t)
	if s.Campaign.Status != "running" || len(s.Entries) != 3 {
		t.Fatalf("after shard 1: %s, %d entries", s.Campaign.Status, len(s.Entries))
	}
	p.vpt("campaign", "c.yaml", "--shard", "2/2", "--execution-id", "ci-pipeline-42").expectOut(t, 0, "FAILED Sharded: 5 scripts, 4 passed, 1 failed")
	s = p.campaignSummary(t)
	if s.Campaign.Status != "failed" || len(s.Entries) != 5 || s.Campaign.Stats.Failed != 1 || s.Campaign.Stats.Passed != 4 {
		t.Fatalf("the whole execution: %s %+v", s.Campaign.Status, s.Campaign.Stats)
	}
	p.vpt("campaign", "c.yaml", "--shard", "3/2").expectErr(t, 2, "shard 3 of 2 does not exist", "--shard 1/2 to --shard 2/2")
	p.vpt("campaign", "c.yaml", "--shard", "two").expectErr(t, 2, "expected i/n")
	// Another campaign file under the same execution id would mix the two.
	p.write("other.yaml", "campaign_id: other\nname: Other\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n")
	p.vpt("campaign", "other.yaml", "--execution-id", "ci-pipeline-42").expectErr(t, 2,
		"execution ci-pipeline-42 is of campaign", "give each campaign file its own --execution-id")
	if s := p.campaignSummary(t); len(s.Entries) != 5 || s.Campaign.CampaignID != "sharded" {
		t.Fatalf("the execution after the refusal: %s, %d entries", s.Campaign.CampaignID, len(s.Entries))
	}
	// So would an execution id that is another execution's id.
	id := p.campaignSummary(t).Campaign.ID
	p.vpt("campaign", "other.yaml", "--execution-id", id).expectErr(t, 2, "is the id of campaign execution ci-pipeline-42", "give another")
}

// The whole execution took the status of its last shard: a shard
// interrupted, then a shard that passed, made it completed (success:
// true); a shard that timed out made it failed. It is judged from every
// shard's entries and ends, as one unsharded execution is.
func TestShardedExecutionStatusIsTheWholes(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: sh\nname: Sh\ndevice: device1\nscript_configurations:\n  - {script_name: nap, parameters: {s: 60}}\n  - {script_name: ok}\n")
	cmd, out := p.background(t, nil, "start   nap", "campaign", "c.yaml", "--shard", "1/2", "--execution-id", "shA")
	waitFor(t, func() bool { return len(p.results()) == 1 })
	cmd.Process.Signal(syscall.SIGINT)
	if ee, ok := cmd.Wait().(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("shard 1: %v\n%s", ee, out.String())
	}
	p.vpt("campaign", "c.yaml", "--shard", "2/2", "--execution-id", "shA").expect(t, 0)
	if s := p.campaignSummary(t); s.Campaign.Status != "cancelled" || s.Campaign.Success {
		t.Fatalf("interrupted, then passed: %s success=%v", s.Campaign.Status, s.Campaign.Success)
	}
	p.vpt("report", "campaigns").expectOut(t, 0, "cancelled")

	p.write("t.yaml", "campaign_id: sht\nname: ShT\ndevice: device1\nscript_configurations:\n  - {script_name: nap, parameters: {s: 60}, timeout: 1s}\n  - {script_name: ok}\n")
	p.vpt("campaign", "t.yaml", "--shard", "1/2", "--execution-id", "shT", "--grace", "1s").expect(t, 4)
	p.vpt("campaign", "t.yaml", "--shard", "2/2", "--execution-id", "shT").expectOut(t, 0, "TIMEOUT ShT")
	if s := p.campaignSummary(t); s.Campaign.Status != "timeout" || s.Campaign.Success {
		t.Fatalf("timed out, then passed: %s success=%v", s.Campaign.Status, s.Campaign.Success)
	}
}

func TestCampaignInterrupt(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: long
name: Long
device: device1
script_configurations:
  - {script_name: nap, parameters: {s: 60}}
  - {script_name: ok}
`)
	cmd, out := p.background(t, nil, "start   nap", "campaign", "c.yaml")
	waitFor(t, func() bool { rows := p.results(); return len(rows) == 1 })
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v\n%s", err, out.String())
	}
	s := p.campaignSummary(t)
	if s.Campaign.Status != "cancelled" || statuses(s) != "interrupted,not_run" {
		t.Fatalf("%s %s", s.Campaign.Status, statuses(s))
	}
	// The page's tiles add up to the scripts: the interrupted one too.
	page, _ := os.ReadFile(filepath.Join(p.dir, "vpt-results", "campaigns", s.Campaign.ExecutionID, "index.html"))
	if !strings.Contains(string(page), "<b>1</b><span>interrupted</span>") {
		t.Fatalf("index.html has no tile of the interrupted entry")
	}
}

// A Ctrl-C while an entry waits for its device (another run holds it):
// the entry's script never started, so it is not run, in the summary as in
// the JUnit and the progress.
func TestCampaignInterruptWhileWaitingForTheDevice(t *testing.T) {
	p := campaignProject(t)
	holder, _ := p.background(t, nil, "", "run", "nap", "-p", "s=60")
	defer holder.Process.Signal(syscall.SIGINT)
	waitFor(t, func() bool { return len(p.results()) == 1 })
	p.write("c.yaml", "campaign_id: wait\nname: Wait\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: ok}\n")
	cmd, out := p.background(t, nil, "waiting for it", "campaign", "c.yaml", "--junit", "junit.xml")
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v\n%s", err, out.String())
	}
	s := p.campaignSummary(t)
	if statuses(s) != "not_run,not_run" || !strings.Contains(s.Entries[0].Attempts[0].Error, "not run: interrupted while waiting for device device1") {
		t.Fatalf("%s %+v\n%s", statuses(s), s.Entries[0].Attempts, out.String())
	}
	if strings.Contains(out.String(), "error") {
		t.Fatalf("an error in the progress:\n%s", out.String())
	}
	b, _ := os.ReadFile(filepath.Join(p.dir, "junit.xml"))
	if !strings.Contains(string(b), `errors="0"`) {
		t.Fatalf("junit:\n%s", b)
	}
}

func TestCampaignExamplesAndReportInBrowser(t *testing.T) {
	p := examplesProject(t)
	p.vpt("campaign", "campaigns/nightly.yaml").expectOut(t, 0, "COMPLETED Nightly regression")
	p.vpt("campaign", "campaigns/parallel.yaml").expectOut(t, 0, "COMPLETED Parallel smoke test")
	p.vpt("campaign", "campaigns/upstream.json").expectOut(t, 0, "COMPLETED Example Campaign")
	s := p.campaignSummary(t)
	index := filepath.Join(p.dir, "vpt-results", "campaigns", s.Campaign.ExecutionID, "index.html")
	wd := startBrowser(t)
	wd.call("POST", wd.s("/url"), map[string]string{"url": "file://" + index}, nil)
	var st struct {
		Rows  int    `json:"rows"`
		Links int    `json:"links"`
		Count string `json:"count"`
	}
	wd.call("POST", wd.s("/execute/sync"), map[string]any{"args": []any{}, "script": `return {
		rows: document.querySelectorAll("#rows tr").length,
		links: document.querySelectorAll("#rows a").length,
		count: document.getElementById("count").textContent};`}, &st)
	wd.screenshot(t, "campaign-report.png")
	if st.Rows != 2 || st.Links != 2 || st.Count != "2 of 2" {
		t.Fatalf("campaign page: %+v", st)
	}
	if errs := wd.consoleErrors(t); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}
}

// --last-failed knows entries by what they are, not their place: after a
// reorder it reruns the entry that failed, not the one now in its place,
// and runs an entry that is new (it never passed).
func TestLastFailedAfterAReorder(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: lf\nname: LF\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: bad}\n")
	p.vpt("campaign", "c.yaml").expect(t, 1)
	p.write("c.yaml", "campaign_id: lf\nname: LF\ndevice: device1\nscript_configurations:\n  - {script_name: bad}\n  - {script_name: ok}\n  - {script_name: nap, parameters: {s: 0}}\n")
	p.vpt("campaign", "c.yaml", "--last-failed").expectErr(t, 1, "rerunning 2 script(s)")
	var ran []string
	for _, e := range p.campaignSummary(t).Entries {
		ran = append(ran, e.Label+":"+string(e.Status))
	}
	if got := strings.Join(ran, ","); got != "bad:failed,nap[s=0]:passed" {
		t.Fatalf("--last-failed after a reorder ran %s", got)
	}
}

// --last-failed again after a --last-failed reruns only what still fails:
// the entries the first rerun left out passed before it, and keep that.
// An entry fixed by the first rerun is not run by the second.
func TestLastFailedTwice(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: lf2\nname: LF2\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: bad}\n  - {script_name: ok, name: fixed}\n")
	p.write("c1.yaml", "campaign_id: lf2\nname: LF2\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: bad}\n  - {script_name: bad, name: fixed}\n")
	p.vpt("campaign", "c1.yaml").expect(t, 1)
	p.vpt("campaign", "c.yaml", "--last-failed").expectErr(t, 1, "rerunning 2 script(s)")
	for i := 0; i < 2; i++ {
		before := len(p.results())
		p.vpt("campaign", "c.yaml", "--last-failed").expectErr(t, 1, "rerunning 1 script(s)")
		if after := len(p.results()); after != before+1 {
			t.Fatalf("--last-failed #%d ran %d scripts", i+2, after-before)
		}
		var ran []string
		for _, e := range p.campaignSummary(t).Entries {
			ran = append(ran, e.Label+":"+string(e.Status))
		}
		if got := strings.Join(ran, ","); got != "bad:failed" {
			t.Fatalf("--last-failed #%d ran %s", i+2, got)
		}
	}
}

// A device listed twice in a campaign's pool is refused: the campaign said
// "parallel on 2 device(s)" and ran on one.
func TestDeviceListedTwice(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: d\nname: D\ndevice: [device1, device1]\nscript_configurations:\n  - {script_name: ok}\n")
	p.vpt("campaign", "c.yaml").expectErr(t, 2, "c.yaml:3:9", "device1 is listed twice")
	p.write("c.yaml", "campaign_id: d\nname: D\nscript_configurations:\n  - {script_name: ok}\n")
	p.vpt("campaign", "c.yaml", "--device", "device1,device1").expectErr(t, 2, "--device: device1 is listed twice")
	if len(p.results()) != 0 {
		t.Fatal("a refused campaign ran")
	}
}
