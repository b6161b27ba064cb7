package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/store"
)

func TestReportCommands(t *testing.T) {
	p := newProject(t)
	p.write("test_scripts/ok.py", "print('fine')\n")
	p.write("test_scripts/bad.py", "raise SystemExit(1)\n")
	p.write("test_scripts/flip.py", "import os, sys\nsys.exit(0 if os.path.exists('flip') else 1)\n")
	p.vpt("run", "ok").expect(t, 0)
	p.vpt("run", "bad").expect(t, 1)
	for i := 0; i < 4; i++ {
		if i%2 == 0 {
			p.write("flip", "")
		} else {
			os.Remove(filepath.Join(p.dir, "flip"))
		}
		p.vpt("run", "flip")
	}
	r := p.vpt("report", "list")
	r.expectOut(t, 0, "ok", "bad", "flip", "flaky", "100% of 1")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 7 || !strings.Contains(lines[1], "flip") {
		t.Fatalf("list, newest first:\n%s", r.stdout)
	}
	p.vpt("report", "list", "--status", "failed", "--script", "bad").expectOut(t, 0, "bad")
	if out := p.vpt("report", "list", "--status", "failed", "--script", "ok").stdout; !strings.Contains(out, "no results") {
		t.Fatalf("filter: %s", out)
	}
	p.vpt("report", "list", "--status", "weird").expectErr(t, 2, "unknown status")
	p.vpt("report", "list", "--since", "yesterdayish").expectErr(t, 2, "neither an age nor a date")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(p.vpt("report", "list", "--json", "--limit", "2").stdout), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("json list: %v %d", err, len(rows))
	}
	if rows[0]["script_flaky"] != true {
		t.Fatalf("flip should be marked flaky: %v", rows[0])
	}
	id := rows[0]["id"].(string)
	p.vpt("report", "show", id[:6]).expectOut(t, 0, id, "last results of flip", "report.html")
	p.vpt("report", "show", "ffffffff").expectErr(t, 2, "no result")
	r = p.vpt("report", "open", id[:8])
	r.expectOut(t, 0, filepath.Join(id, "report.html"))

	// Regenerate after the report is lost.
	runs := p.results()
	os.Remove(filepath.Join(runs[0].RunDir, "report.html"))
	p.vpt("report", "regenerate", "--all").expectOut(t, 0, "regenerated 6 report(s)")
	if _, err := os.Stat(filepath.Join(runs[0].RunDir, "report.html")); err != nil {
		t.Fatal("report not regenerated")
	}

	// Prune: dry run deletes nothing; --keep-failed keeps failures.
	// latest points at the newest run, which a prune of them all deletes:
	// the dry run says the link would move, as the prune then does.
	p.vpt("report", "prune", "--older-than", "0s", "--dry-run").expectOut(t, 0, "would delete 6", "would move latest off a deleted run")
	if len(p.results()) != 6 {
		t.Fatal("dry run deleted")
	}
	p.vpt("report", "prune", "--older-than", "0s", "--keep-failed").expectOut(t, 0, "deleted 3", "kept 3")
	left := p.results()
	for _, r := range left {
		if r.Status == store.StatusPassed {
			t.Fatalf("a passed result survived: %s", r.ScriptName)
		}
	}
	for _, r := range runs {
		_, err := os.Stat(r.RunDir)
		kept := false
		for _, l := range left {
			kept = kept || l.ID == r.ID
		}
		if kept == (err != nil) {
			t.Fatalf("run folder %s: kept=%v, exists=%v", r.ID[:8], kept, err == nil)
		}
	}
	p.vpt("report", "prune").expectErr(t, 2, "needs --older-than")
}

func TestPruneSparesRunningRuns(t *testing.T) {
	p := newProject(t)
	p.background(t, nil, "sleeping", "run", fixture(t, "sleep_past_timeout.py"), "--timeout", "20s")
	p.vpt("report", "prune", "--older-than", "0s").expectOut(t, 0, "deleted 0", "kept 1")
	rows := p.results()
	if len(rows) != 1 || rows[0].Status != store.StatusRunning {
		t.Fatalf("rows %+v", rows)
	}
}

func TestJUnitConsumers(t *testing.T) {
	needTools(t, "xmllint")
	p := newProject(t)
	p.write("test_scripts/bad.py", "print('\\x1b[31mboom\\x1b[0m <&>')\nraise SystemExit(2)\n")
	p.vpt("run", "bad", "--junit", "out/junit.xml").expect(t, 1)
	junit := filepath.Join(p.dir, "out", "junit.xml")
	if out, err := exec.Command("xmllint", "--noout", junit).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v %s", err, out)
	}
	b, _ := os.ReadFile(junit)
	if strings.Contains(string(b), "\x1b") || !strings.Contains(string(b), "[[ATTACHMENT|") || !strings.Contains(string(b), `<failure message="exit code 2"`) {
		t.Fatalf("junit:\n%s", b)
	}
	// A consumer that is not ours: junitparser, from Debian.
	testenv.NeedPython3Module(t, "junitparser", "python3-junitparser")
	out, err := exec.Command("/usr/bin/python3", "-c", `
import sys
from junitparser import JUnitXml, Failure
x = JUnitXml.fromfile(sys.argv[1])
for s in x:
    for c in s:
        print(s.name, c.classname, c.name, c.time, [type(r).__name__ for r in c.result], "boom" in (c.system_out or ""))
`, junit).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "vpt vpt bad") || !strings.Contains(string(out), "['Failure'] True") {
		t.Fatalf("junitparser: %v\n%s", err, out)
	}
}

func TestReportListScales(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 20,000 rows")
	}
	p := newProject(t)
	db := filepath.Join(p.dir, "vpt-results", "vpt.db")
	fillStore(t, "sqlite://"+db, 20000)
	r := p.vpt("report", "list", "--limit", "5")
	r.expectOut(t, 0, "bulk_")
	if n := len(strings.Split(strings.TrimSpace(r.stdout), "\n")); n != 6 {
		t.Fatalf("%d lines", n)
	}
}

// fillStore writes n finished results quickly (in one transaction per 1000).
func fillStore(t testing.TB, url string, n int) {
	t.Helper()
	st, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now().Add(-time.Duration(n) * time.Second)
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * time.Second)
		end := at.Add(time.Second)
		code := 0
		status := store.StatusPassed
		if i%7 == 0 {
			status, code = store.StatusFailed, 1
		}
		r := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: "bulk_" + string(rune('a'+i%20)), ScriptType: "bulk",
			HostName: "h", DeviceID: "device1", DeviceName: "d", DeviceModel: "virtual", Status: status, Success: status == store.StatusPassed,
			ExitCode: &code, StartedAt: at, CompletedAt: &end, ExecutionTimeMs: 1000}
		if err := st.CreateResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
}

// A run id given to report show: an empty one is refused with a hint (it
// showed the latest run), an upper-case prefix finds the run, a prefix of
// several ids says to give more.
func TestReportShowIDs(t *testing.T) {
	p := newProject(t)
	p.vpt("run", fixture(t, "noop.py")).expect(t, 0)
	st := p.store()
	start := time.Now().UTC().Add(-time.Hour)
	for _, id := range []string{"abcd1111-0000-4000-8000-000000000001", "abcd2222-0000-4000-8000-000000000002"} {
		end := start.Add(time.Second)
		r := &store.Result{ID: id, TeamID: "t", ScriptName: "twin", HostName: "h", DeviceID: "device1", Status: store.StatusPassed,
			Success: true, StartedAt: start, CompletedAt: &end}
		if err := st.CreateResult(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	p.vpt("report", "show", "").expectErr(t, 2, "an empty run id", "hint:")
	p.vpt("report", "show", "ABCD1111").expectOut(t, 0, "abcd1111-0000-4000-8000-000000000001")
	p.vpt("report", "show", "abcd").expectErr(t, 2, "prefix of several", "give more of it")
	// A prefix of a run's id and of a campaign execution's names neither;
	// the whole of either names it.
	p.write("test_scripts/ok.py", "print('ok')\n")
	p.write("c.yaml", "campaign_id: twin\nname: Twin\nscript_configurations:\n  - {script_name: ok}\n")
	p.vpt("campaign", "c.yaml", "--execution-id", "abcd1111-nightly").expect(t, 0)
	p.vpt("report", "show", "abcd1111").expectErr(t, 2, "prefix of a run's id and of a campaign execution's", "give more of it")
	p.vpt("report", "show", "abcd1111-nightly").expectOut(t, 0, "execution", "Twin")
	p.vpt("report", "show", "abcd1111-0").expectOut(t, 0, "abcd1111-0000-4000-8000-000000000001")
}

// The commands that only read leave no vpt-results folder where there are
// no results yet (a report list in the wrong folder).
func TestReadingCommandsLeaveNoResultsFolder(t *testing.T) {
	p := newProject(t)
	p.vpt("report", "list").expect(t, 0, "o results")
	p.vpt("report", "list", "--json").expectOut(t, 0, "[]")
	p.vpt("report", "campaigns").expect(t, 0, "no campaigns")
	p.vpt("report", "show").expectErr(t, 2, "no results yet")
	if _, err := os.Stat(filepath.Join(p.dir, "vpt-results")); err == nil {
		t.Fatal("a reading command made vpt-results")
	}
	p.vpt("run", fixture(t, "noop.py")).expect(t, 0)
	p.vpt("report", "list").expectOut(t, 0, "noop")
}

// A run folder that lost its output.log keeps the report that shows the
// output: regenerate says so and leaves report.html as it was, instead of
// a report saying the script printed nothing. A report made without the
// file says it is missing.
func TestRegenerateKeepsOutputWhenLogIsGone(t *testing.T) {
	p := newProject(t)
	p.write("p.py", "print('hello output')\n")
	p.vpt("run", "p.py", "--video", "off").expect(t, 0)
	dir := p.results()[0].RunDir
	page := filepath.Join(dir, "report.html")
	before, err := os.ReadFile(page)
	if err != nil || !strings.Contains(string(before), "hello output") {
		t.Fatalf("report before: %v", err)
	}
	if err := os.Rename(filepath.Join(dir, "output.log"), filepath.Join(p.dir, "output.log")); err != nil {
		t.Fatal(err)
	}
	p.vpt("report", "regenerate", "latest").expect(t, 0, "regenerated 0 report(s)", "output.log is missing", "kept as it is")
	if after, _ := os.ReadFile(page); string(after) != string(before) {
		t.Fatal("report.html was replaced by one without the output")
	}
	os.Remove(page)
	p.vpt("report", "regenerate", "latest").expect(t, 0, "regenerated 1 report(s)")
	after, _ := os.ReadFile(page)
	if strings.Contains(string(after), "printed nothing") || !strings.Contains(string(after), "output.log is not in the run folder") {
		t.Fatalf("a report without output.log:\n%s", after)
	}
}
