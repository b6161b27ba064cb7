package main

// What a person at a terminal reads: tables that stay aligned in colour,
// counts in English, durations that say what happened.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/store"
)

// vptTTY runs vpt with a terminal on its stdout and stderr (util-linux
// script), as a person runs it, and returns what the terminal showed,
// colour codes included.
func (p *project) vptTTY(t *testing.T, args ...string) string {
	t.Helper()
	needTools(t, "script")
	line := shellQuote(vptBin)
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	cmd := exec.Command("script", "-qefc", line, "/dev/null")
	cmd.Dir, cmd.Env = p.dir, p.environ("TERM=xterm-256color")
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("script: %v", err)
	}
	return strings.ReplaceAll(string(out), "\r\n", "\n")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// columnsAligned fails t unless every line of the table under header
// starts each of the header's columns at the same place on screen.
func columnsAligned(t *testing.T, screen, header string, columns ...string) {
	t.Helper()
	if !strings.Contains(screen, "\x1b[") {
		t.Fatalf("no colour on a terminal:\n%s", screen)
	}
	lines := strings.Split(sgr.ReplaceAllString(screen, ""), "\n")
	for i, l := range lines {
		// What a carriage return left on screen (a progress bar's redraws).
		if j := strings.LastIndexByte(l, '\r'); j >= 0 {
			lines[i] = l[j+1:]
		}
	}
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, header) {
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("no table headed %q:\n%s", header, screen)
	}
	head := []rune(lines[start])
	for _, l := range lines[start+1:] {
		if strings.TrimSpace(l) == "" || !strings.Contains(l, "  ") {
			break
		}
		row := []rune(l)
		for _, c := range columns {
			at := strings.Index(string(head), c)
			at = len([]rune(string(head)[:at]))
			if at >= len(row) || row[at] == ' ' || row[at-1] != ' ' {
				t.Fatalf("column %s starts at %d in the header, not in\n%s\n%s", c, at, string(head), l)
			}
		}
	}
}

func TestTablesStayAlignedInColour(t *testing.T) {
	p := campaignProject(t)
	p.vpt("run", "ok").expect(t, 0)
	p.vpt("run", "bad").expect(t, 1)
	columnsAligned(t, p.vptTTY(t, "report", "list"), "ID", "STATUS", "SCRIPT", "DEVICE", "DURATION")

	p.write("c.yaml", `campaign_id: colours
name: Colours
device: device1
execution_config: {continue_on_failure: false}
script_configurations:
  - {script_name: ok}
  - {script_name: bad}
  - {script_name: ok}
`)
	screen := p.vptTTY(t, "campaign", "c.yaml")
	columnsAligned(t, screen, "#", "SCRIPT", "ATTEMPTS", "STATUS", "DURATION")
	// The entry that never ran made no attempt.
	for _, l := range strings.Split(sgr.ReplaceAllString(screen, ""), "\n") {
		if strings.Contains(l, "not_run") && !regexp.MustCompile(`\s0\s+not_run`).MatchString(l) {
			t.Fatalf("a not_run entry shows attempts: %q", l)
		}
	}
}

func TestCountsReadAsEnglish(t *testing.T) {
	p := campaignProject(t)
	p.write("one.yaml", "campaign_id: one\nname: One\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n")
	r := p.vpt("campaign", "one.yaml")
	r.expectOut(t, 0, "COMPLETED One: 1 script, 1 passed")
}

// A run whose vpt was killed before its first heartbeat still shows how
// long it ran: until its last sign of life, its last output.
func TestAbandonedRunsShowHowLongTheyRan(t *testing.T) {
	p := campaignProject(t)
	p.write("test_scripts/ticks.py", "import time\nfor i in range(6):\n    print('tick', i, flush=True)\n    time.sleep(0.25)\ntime.sleep(60)\n")
	p.write("c.yaml", "campaign_id: ab\nname: Abandoned\ndevice: device1\nscript_configurations:\n  - {script_name: ticks}\n")
	for _, args := range [][]string{{"run", "ticks"}, {"campaign", "c.yaml"}} {
		cmd, _ := p.background(t, nil, "ticks", args...)
		var log string
		waitFor(t, func() bool {
			rows := p.results()
			if len(rows) == 0 || rows[0].RunDir == "" {
				return false
			}
			b, _ := os.ReadFile(filepath.Join(rows[0].RunDir, "output.log"))
			log = string(b)
			return strings.Contains(log, "tick 5")
		})
		cmd.Process.Kill()
		cmd.Wait()
		var rows []store.Result
		waitFor(t, func() bool {
			json.Unmarshal([]byte(p.vpt("report", "list", "--json").stdout), &rows)
			return len(rows) > 0 && rows[0].Status == store.StatusAbandoned
		})
		// Six ticks a quarter of a second apart: at least 1.25 s of life.
		if rows[0].ExecutionTimeMs < 1250 {
			t.Fatalf("vpt %s: abandoned after %d ms, but its output ran for 1.25 s", args[0], rows[0].ExecutionTimeMs)
		}
		if args[0] == "campaign" {
			s := p.campaignSummary(t)
			if s.Campaign.ExecutionTimeMs < 1250 || s.Entries[0].DurationMs < 1250 {
				t.Fatalf("abandoned campaign: %d ms, entry %d ms", s.Campaign.ExecutionTimeMs, s.Entries[0].DurationMs)
			}
		}
		os.RemoveAll(filepath.Join(p.dir, "vpt-results"))
	}
}

// report list: which host ran each run (a lab's hosts each have a
// device1), a filter by host, statuses in any case, scripts by file name.
func TestReportListHostsAndFilters(t *testing.T) {
	p := campaignProject(t)
	p.vptEnv([]string{"HOST_NAME=rack-a"}, "run", "ok").expect(t, 0)
	p.vptEnv([]string{"HOST_NAME=rack-b"}, "run", "bad").expect(t, 1)

	r := p.vpt("report", "list")
	r.expectOut(t, 0, "HOST", "rack-a", "rack-b")
	p.vpt("report", "list", "--host", "rack-a").expectOut(t, 0, "rack-a", "ok")
	if r := p.vpt("report", "list", "--host", "rack-a"); strings.Contains(r.stdout, "rack-b") {
		t.Fatalf("--host rack-a lists rack-b's run:\n%s", r.stdout)
	}
	if r := p.vpt("report", "list", "--status", "FAILED"); r.code != 0 || !strings.Contains(r.stdout, "bad") || strings.Contains(r.stdout, " ok ") {
		t.Fatalf("--status FAILED: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := p.vpt("report", "list", "--script", "ok.py"); r.code != 0 || !strings.Contains(r.stdout, "ok") || strings.Contains(r.stdout, "bad") {
		t.Fatalf("--script ok.py: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := p.vpt("report", "list", "--script", "test_scripts/ok.py"); r.code != 0 || !strings.Contains(r.stdout, "rack-a") {
		t.Fatalf("--script test_scripts/ok.py: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
