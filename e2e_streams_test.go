package main

// Results on stdout, progress and logs on stderr: what a pipe or a CI log
// gets from each stream, and --json keeping stdout machine-readable.

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/vpt-dev/vpt/report"
)

// oneJSON fails t unless stdout is exactly one JSON value, and returns it.
func oneJSON(t *testing.T, r result) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not JSON: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON value\nstdout:\n%s", r.stdout)
	}
	return v
}

func TestStreamsOfARun(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/hello.py", "print('hello from the script')\n")
	// The verdict and where the run is go to stdout; nothing to stderr.
	r := p.vpt("run", "hello")
	r.expectOut(t, 0, "PASSED hello on device1", "report  vpt-results/runs/")
	r.notErr(t, "PASSED", "report.html")
	if r.stderr != "" {
		t.Fatalf("a passing run wrote to stderr:\n%s", r.stderr)
	}
	// Waiting for a busy device is progress: stderr only.
	hold, _ := p.background(t, nil, "sleeping", "run", fixture(t, "sleep_past_timeout.py"), "--timeout", "2s")
	r = p.vpt("run", "hello")
	hold.Wait()
	r.expectErr(t, 0, "device device1 is busy", "waiting")
	r.notOut(t, "is busy", "waiting")
	r.expectOut(t, 0, "PASSED hello")
	// With --json, stdout is the result alone; the script's output and
	// vpt's own lines go to stderr.
	r = p.vpt("run", "hello", "--json")
	if v, ok := oneJSON(t, r).(map[string]any); !ok || v["schema"] != report.ResultSchema {
		t.Fatalf("--json printed %v", v)
	}
	r.expectErr(t, 0, "hello from the script")
	r.notOut(t, "hello from the script", "PASSED")
}

// A failure to start a run is an error on stderr, with --json too; stdout
// stays empty, so a pipe reading it sees no result rather than a wrong one.
func TestStreamsOfAnError(t *testing.T) {
	p := newProject(t)
	for _, args := range [][]string{{"run", "nope"}, {"run", "nope", "--json"}, {"campaign", "missing.yaml", "--json"}} {
		r := p.vpt(args...)
		if r.code != 2 || r.stdout != "" || r.stderr == "" {
			t.Fatalf("vpt %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func TestStreamsOfACampaign(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: s\nname: Streams\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: ok}\n")
	// The table and the verdict on stdout; each script's start and end on
	// stderr as they happen.
	r := p.vpt("campaign", "c.yaml")
	r.expectOut(t, 0, "COMPLETED Streams: 2 scripts, 2 passed", "SCRIPT")
	r.expectErr(t, 0, "start   ok on device1", "[1/2]", "[2/2]")
	r.notOut(t, "start   ok", "[1/2]")
	r.notErr(t, "COMPLETED")
	r = p.vpt("campaign", "c.yaml", "--json")
	if v, ok := oneJSON(t, r).(map[string]any); !ok || v["schema"] != "vpt.campaign/v1" {
		t.Fatalf("--json printed %v", v)
	}
	r.expectErr(t, 0, "start   ok on device1", "[2/2]")
}

// report list: the table or the JSON on stdout; the recovery of a run
// left behind by a killed vpt says so on stderr, and the JSON on stdout
// is still only JSON.
func TestStreamsOfReportList(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/ok.py", "print('ok')\n")
	p.vpt("run", "ok").expect(t, 0)
	r := p.vpt("report", "list")
	r.expectOut(t, 0, "STATUS", "passed", "ok")
	if r.stderr != "" {
		t.Fatalf("report list wrote to stderr:\n%s", r.stderr)
	}
	killed, _ := p.background(t, nil, "sleeping", "run", fixture(t, "sleep_past_timeout.py"))
	killed.Process.Signal(syscall.SIGKILL)
	killed.Wait()
	r = p.vpt("report", "list", "--json")
	list, ok := oneJSON(t, r).([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("--json printed %v", list)
	}
	r.expectErr(t, 0, "abandoned")
	r.notOut(t, "[vpt]")
}

// Every command with --json prints one JSON value on stdout and nothing
// else there.
func TestJSONIsAloneOnStdout(t *testing.T) {
	p := examplesProject(t)
	p.vpt("run", "hello").expect(t, 0)
	for _, args := range [][]string{
		{"scripts"}, {"devices"}, {"ui", "list"}, {"ui", "show", "horizon_tv"}, {"doctor"}, {"version"},
		{"report", "list"}, {"report", "show", "latest"},
	} {
		r := p.vpt(append(args, "--json")...)
		if r.code != 0 && r.code != 3 {
			t.Fatalf("vpt %s --json: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		oneJSON(t, r)
		if bytes.ContainsRune([]byte(r.stdout), 0x1b) {
			t.Fatalf("vpt %s --json: colour codes on stdout", strings.Join(args, " "))
		}
	}
}
