package main

// JUnit XML as CI tools read it: a test's identity stays the same from one
// campaign execution to the next, whichever device ran it; flaky passes
// and retries are visible; every campaign folder holds its junit.xml.

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vpt-dev/vpt/internal/testenv"
)

type junitDoc struct {
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Props     []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Failure      *struct{} `xml:"failure"`
			FlakyFailure []struct {
				Message string `xml:"message,attr"`
			} `xml:"flakyFailure"`
			RerunFailure []struct {
				Message string `xml:"message,attr"`
			} `xml:"rerunFailure"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d junitDoc
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return d
}

// identities are the classname/name pairs of a document, sorted.
func (d junitDoc) identities() []string {
	var out []string
	for _, s := range d.Suites {
		for _, c := range s.Cases {
			out = append(out, c.Classname+" / "+c.Name)
		}
	}
	sort.Strings(out)
	return out
}

func (d junitDoc) prop(name, key string) string {
	for _, s := range d.Suites {
		for _, c := range s.Cases {
			if c.Name != name {
				continue
			}
			for _, p := range c.Props {
				if p.Name == key {
					return p.Value
				}
			}
		}
	}
	return ""
}

func TestJUnitIdentityIsStable(t *testing.T) {
	p := campaignProject(t)
	p.write("vpt.yaml", `scripts_dir: test_scripts
userinterfaces_dir: userinterfaces
devices:
  - {id: device1, name: One, model: virtual, userinterface: horizon_tv}
  - {id: device2, name: Two, model: virtual, userinterface: horizon_tv}
`)
	p.write("c.yaml", `campaign_id: ident
name: Identity
device: auto
execution_config: {parallel: true}
script_configurations:
  - {script_name: nap, parameters: {s: 0.1}}
  - {script_name: nap, parameters: {s: 0.3}}
  - {script_name: ok}
  - {script_name: ok}
  - {script_name: ok, name: ok again}
  - {script_name: second_try, retries: 1}
  - {script_name: bad, retries: 1}
`)
	var runs [][]string
	var last junitDoc
	for i := 0; i < 2; i++ {
		os.Remove(filepath.Join(p.dir, "tried"))
		r := p.vpt("campaign", "c.yaml", "--junit", "out/junit.xml", "--json")
		r.expectOut(t, 1)
		last = readJUnit(t, filepath.Join(p.dir, "out", "junit.xml"))
		runs = append(runs, last.identities())

		// The campaign folder holds the same document.
		var sum struct {
			Campaign struct {
				ExecutionID string `json:"campaign_execution_id"`
			} `json:"campaign"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
			t.Fatalf("--json: %v\n%s", err, r.stdout)
		}
		inFolder := filepath.Join(p.dir, "vpt-results", "campaigns", sum.Campaign.ExecutionID, "junit.xml")
		if got := readJUnit(t, inFolder).identities(); strings.Join(got, "\n") != strings.Join(runs[i], "\n") {
			t.Fatalf("campaigns/<id>/junit.xml differs from --junit:\n%v\n%v", got, runs[i])
		}
	}
	want := []string{
		"ident / bad", "ident / nap[s=0.1]", "ident / nap[s=0.3]", "ident / ok", "ident / ok (2)",
		"ident / ok again", "ident / second_try",
	}
	for i, ids := range runs {
		if strings.Join(ids, "\n") != strings.Join(want, "\n") {
			t.Fatalf("execution %d: test identities\n%s\nwant\n%s", i+1, strings.Join(ids, "\n"), strings.Join(want, "\n"))
		}
	}
	// The device is a property, not part of the name.
	if d := last.prop("nap[s=0.1]", "device"); d != "device1" && d != "device2" {
		t.Fatalf("device property %q", d)
	}
	// A flaky pass: a property, the failed attempt as a flakyFailure, a note.
	if last.prop("second_try", "flaky") != "true" || last.prop("second_try", "attempts") != "2" {
		t.Fatalf("flaky properties: flaky=%q attempts=%q", last.prop("second_try", "flaky"), last.prop("second_try", "attempts"))
	}
	for _, s := range last.Suites {
		for _, c := range s.Cases {
			switch c.Name {
			case "second_try":
				if c.Failure != nil || len(c.FlakyFailure) != 1 || !strings.Contains(c.SystemOut, "flaky: failed on attempt 1") {
					t.Fatalf("flaky case: failure %v, flakyFailure %v, system-out %q", c.Failure, c.FlakyFailure, c.SystemOut)
				}
			case "bad":
				// Failed on every attempt: the last is the failure, the
				// earlier ones stay visible as reruns.
				if c.Failure == nil || len(c.RerunFailure) != 1 || !strings.Contains(c.SystemOut, "attempt 1: failed") {
					t.Fatalf("retried failure: failure %v, rerunFailure %v, system-out %q", c.Failure, c.RerunFailure, c.SystemOut)
				}
			}
		}
	}

	// A consumer that is not ours reads the same.
	testenv.NeedPython3Module(t, "junitparser", "python3-junitparser")
	out, err := exec.Command("/usr/bin/python3", "-c", `
import sys
from junitparser import JUnitXml
for s in JUnitXml.fromfile(sys.argv[1]):
    for c in s:
        print(c.classname, "/", c.name, [type(r).__name__ for r in c.result])
`, filepath.Join(p.dir, "out", "junit.xml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ident / second_try []") || !strings.Contains(string(out), "ident / bad ['Failure']") {
		t.Fatalf("junitparser: %v\n%s", err, out)
	}
}

// A duplicate entry name is refused before anything runs: two test cases
// of one name are one to a CI system.
func TestCampaignEntryNamesAreUnique(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: dup
name: Dup
device: device1
script_configurations:
  - {script_name: ok, name: smoke}
  - {script_name: bad, name: smoke}
`)
	p.vpt("campaign", "c.yaml").expectErr(t, 2, "c.yaml:6", "name", "smoke")
	p.noRows()
	// A name given as "ok (2)" stays that entry's: the second of the
	// entries labelled ok takes the next free number.
	p.write("c.yaml", `campaign_id: dup
name: Dup
device: device1
script_configurations:
  - {script_name: ok}
  - {script_name: ok}
  - {script_name: ok, name: "ok (2)"}
`)
	p.vpt("campaign", "c.yaml", "--junit", "dup.xml").expect(t, 0)
	if got := strings.Join(readJUnit(t, filepath.Join(p.dir, "dup.xml")).identities(), ", "); got != "dup / ok, dup / ok (2), dup / ok (3)" {
		t.Fatalf("test identities: %s", got)
	}
}

// A fresh run's result.json and `vpt run --json` list report.html.
func TestRunFilesListTheReport(t *testing.T) {
	p := campaignProject(t)
	r := p.vpt("run", "ok", "--json")
	r.expectOut(t, 0)
	var out struct {
		RunDir string `json:"run_dir"`
		Files  struct {
			Report string `json:"report"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Files.Report != "report.html" {
		t.Fatalf("vpt run --json files.report %q (%v)\n%s", out.Files.Report, err, r.stdout)
	}
	b, err := os.ReadFile(filepath.Join(out.RunDir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Files struct {
			Report string `json:"report"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &file); err != nil || file.Files.Report != "report.html" {
		t.Fatalf("result.json files.report %q (%v)", file.Files.Report, err)
	}
}

// --fail-on-flaky failed the job while the JUnit file showed every test
// green; a shard with no script (or --last-failed after a green run)
// wrote no JUnit file at all, and the CI step publishing it failed.
func TestJUnitAgreesWithTheExitCode(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: fl\nname: Flaky\ndevice: device1\nscript_configurations:\n  - {script_name: second_try, retries: 1}\n")
	p.vpt("campaign", "c.yaml", "--fail-on-flaky", "--junit", "out/fl.xml").expectOut(t, 1, "1 flaky")
	doc := readJUnit(t, filepath.Join(p.dir, "out", "fl.xml"))
	if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 1 || doc.Suites[0].Cases[0].Failure == nil {
		t.Fatalf("a flaky entry under --fail-on-flaky has no <failure>: %+v", doc)
	}
	if b, _ := os.ReadFile(filepath.Join(p.dir, "out", "fl.xml")); !strings.Contains(string(b), `failures="1"`) {
		t.Fatalf("counts:\n%s", b)
	}
	// Without the flag the flaky pass is a pass.
	os.Remove(filepath.Join(p.dir, "tried"))
	p.vpt("campaign", "c.yaml", "--junit", "out/ok.xml").expectOut(t, 0)
	if doc := readJUnit(t, filepath.Join(p.dir, "out", "ok.xml")); doc.Suites[0].Cases[0].Failure != nil {
		t.Fatalf("a flaky pass is a failure without --fail-on-flaky")
	}

	p.vpt("campaign", "c.yaml", "--shard", "2/2", "--junit", "out/empty.xml").expectErr(t, 0, "nothing to run")
	b, err := os.ReadFile(filepath.Join(p.dir, "out", "empty.xml"))
	if err != nil || !strings.Contains(string(b), `tests="0"`) {
		t.Fatalf("no empty JUnit file for nothing to run: %v\n%s", err, b)
	}
}

// An entry names its script with or without .py: its test name, its
// parameters in summary.json and its --dry-run label are the same.
func TestEntryNamedWithPy(t *testing.T) {
	for _, script := range []string{"nap", "nap.py"} {
		p := campaignProject(t)
		p.write("c.yaml", "campaign_id: py\nname: Py\ndevice: device1\nscript_configurations:\n  - {script_name: "+script+", parameters: {s: 0}}\n")
		p.vpt("campaign", "c.yaml", "--dry-run", "--json").expectOut(t, 0, `"label": "nap[s=0]"`)
		p.vpt("campaign", "c.yaml", "--junit", "junit.xml").expect(t, 0)
		if b, _ := os.ReadFile(filepath.Join(p.dir, "junit.xml")); !strings.Contains(string(b), `name="nap[s=0]"`) {
			t.Fatalf("%s: junit.xml:\n%s", script, b)
		}
		if e := p.campaignSummary(t).Entries[0]; e.Label != "nap[s=0]" || e.Parameters["s"] != "0" {
			t.Fatalf("%s: summary entry %+v", script, e)
		}
	}
}
