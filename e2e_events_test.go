package main

// The event log end to end: what a run and a campaign append, as vpt
// events prints it.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

func parseEvents(t *testing.T, out string) []store.Event {
	t.Helper()
	var evs []store.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e store.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not NDJSON: %q: %v", sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

func types(evs []store.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type))
	}
	return out
}

func TestEventsOfARun(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/steps.py", `import vpt
vpt.goto("live")
vpt.step("checked", True, "fine")
vpt.screenshot("mine")
`)
	p.vpt("run", "steps").expect(t, 0)
	res := p.only()
	r := p.vpt("events")
	r.expect(t, 0)
	evs := parseEvents(t, r.stdout)
	got := strings.Join(types(evs), " ")
	for _, want := range []string{"run.queued run.started device.busy", "run.step", "run.screenshot", "run.verification",
		"run.verdict", "run.finished device.idle"} {
		if !strings.Contains(got, want) {
			t.Fatalf("events %s lack %q", got, want)
		}
	}
	if !strings.HasPrefix(got, "run.queued run.started device.busy") || !strings.HasSuffix(got, "run.verdict run.finished device.idle") {
		t.Fatalf("order: %s", got)
	}
	var last int64
	for _, e := range evs {
		if e.Seq <= last || e.RunID != res.ID || e.DeviceID != "device1" || e.At.IsZero() {
			t.Fatalf("event %+v (after %d, run %s)", e, last, res.ID)
		}
		last = e.Seq
	}
	var fin store.RunFinished
	if err := evs[len(evs)-2].Decode(&fin); err != nil || fin.Status != store.StatusPassed || fin.Script != "steps" || fin.Steps < 2 {
		t.Fatalf("run.finished: %+v %v", fin, err)
	}
	// Resuming after a sequence number, and one type.
	after := p.vpt("events", "--since", fmt.Sprint(evs[2].Seq))
	if rest := parseEvents(t, after.stdout); len(rest) != len(evs)-3 || rest[0].Seq != evs[3].Seq {
		t.Fatalf("--since: %d events", len(rest))
	}
	only := parseEvents(t, p.vpt("events", "--type", "run.finished").stdout)
	if len(only) != 1 || only[0].Type != store.EventRunFinished {
		t.Fatalf("--type: %v", types(only))
	}
	p.vpt("events", "--type", "run.bogus").expect(t, 2, "unknown event type")
	p.vpt("events", "--since", "-1").expect(t, 2)
	// events: false leaves the log alone.
	p.write("vpt.yaml", strings.Replace(readFile(t, p.dir+"/vpt.yaml"), "devices:", "events: false\ndevices:", 1))
	p.vpt("run", "steps").expect(t, 0)
	if n := len(parseEvents(t, p.vpt("events").stdout)); n != len(evs) {
		t.Fatalf("events: false appended %d events", n-len(evs))
	}
}

// A follower sees a campaign another process runs, and stops after it.
func TestEventsFollowCampaign(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: ev
name: Events
device: [device1, device2]
execution_config: {parallel: true}
script_configurations:
  - {script_name: ok}
  - {script_name: bad}
  - {script_name: nap, parameters: {s: 0.2}}
`)
	// The store exists before the follower opens it.
	p.vpt("events").expect(t, 0)
	// The events on stdout; on stderr, that the campaign is not there yet.
	follow := p.command(nil, "events", "--follow", "--campaign", "campaign_exec_1_follow")
	out, errs := &syncBuffer{}, &syncBuffer{}
	follow.Stdout, follow.Stderr = out, errs
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follow.Process.Kill() })
	waitFor(t, func() bool { return strings.Contains(errs.String(), "waiting for it") })
	p.vpt("campaign", "c.yaml", "--execution-id", "campaign_exec_1_follow").expect(t, 1)
	if err := follow.Wait(); err != nil {
		t.Fatalf("the follower did not end with the campaign: %v\n%s%s", err, out.String(), errs.String())
	}
	evs := parseEvents(t, out.String())
	got := types(evs)
	count := map[string]int{}
	for _, ty := range got {
		count[ty]++
	}
	if got[0] != "campaign.started" || got[len(got)-1] != "campaign.finished" || count["campaign.entry_started"] != 3 ||
		count["campaign.entry_finished"] != 3 || count["run.started"] != 3 || count["run.finished"] != 3 {
		t.Fatalf("events: %v", got)
	}
	var d store.CampaignData
	evs[len(evs)-1].Decode(&d)
	if d.Status != "failed" || !d.Done || d.Stats == nil || d.Stats.Failed != 1 || d.Stats.Passed != 2 {
		t.Fatalf("campaign.finished: %+v", d)
	}
	// Ctrl-C ends a follower with 130.
	// (once it printed the backlog: its signal handlers are in place)
	f2, _ := p.background(t, nil, `"seq"`, "events", "--follow")
	f2.Process.Signal(syscall.SIGINT)
	if err := f2.Wait(); err == nil || f2.ProcessState.ExitCode() != 130 {
		t.Fatalf("follower after Ctrl-C: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// --balance history splits shards by the stored durations: the long
// script alone on one shard.
func TestBalanceHistory(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: bal
name: Balanced
device: [device1]
script_configurations:
  - {script_name: ok}
  - {script_name: nap}
  - {script_name: bad}
  - {script_name: second_try}
`)
	p.vpt("events").expect(t, 0) // the store
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(p.dir, "vpt-results", "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]time.Duration{"nap": 90 * time.Second, "ok": 20 * time.Second, "bad": 30 * time.Second, "second_try": 25 * time.Second} {
		start := time.Now().Add(-time.Hour)
		end := start.Add(d)
		r := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: name, ScriptType: name, HostName: "h", DeviceID: "device1",
			DeviceName: "d", Status: store.StatusPassed, StartedAt: start, CompletedAt: &end, ExecutionTimeMs: d.Milliseconds()}
		if err := st.CreateResult(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	one := p.vpt("campaign", "c.yaml", "--shard", "1/2", "--balance", "history", "--dry-run")
	two := p.vpt("campaign", "c.yaml", "--shard", "2/2", "--balance", "history", "--dry-run")
	// nap (90 s) alone against ok+bad+second_try (75 s); round robin
	// would have put ok and bad together against nap and second_try.
	one.expect(t, 0, "1 of 4 script(s)")
	two.expect(t, 0, "3 of 4 script(s)")
	if !strings.Contains(one.stdout, "nap") {
		t.Fatalf("shard 1:\n%s\nshard 2:\n%s", one.stdout, two.stdout)
	}
	for _, s := range []string{"ok", "bad", "second_try"} {
		if !strings.Contains(two.stdout, s) {
			t.Fatalf("shard 2 lacks %s:\n%s", s, two.stdout)
		}
	}
	p.vpt("campaign", "c.yaml", "--balance", "history").expect(t, 2, "--shard")
	p.vpt("campaign", "c.yaml", "--shard", "1/2", "--balance", "size").expect(t, 2, "--balance")
}
