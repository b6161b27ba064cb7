package main

// The results folder as a whole: moved or copied (a CI artifact), it still
// works; pruned, its references stay whole; its campaigns are results too.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A results folder moved elsewhere (as CI artifacts are downloaded) finds
// its run folders where they are now.
func TestMovedResultsFolderWorks(t *testing.T) {
	p := campaignProject(t)
	p.vpt("run", "ok").expect(t, 0)
	p.write("c.yaml", "campaign_id: moved\nname: Moved\ndevice: device1\nscript_configurations:\n  - {script_name: ok}\n  - {script_name: bad}\n")
	p.vpt("campaign", "c.yaml").expect(t, 1)

	for _, how := range []string{"mv", "cp"} {
		t.Run(how, func(t *testing.T) {
			elsewhere := filepath.Join(t.TempDir(), "artifact")
			original := filepath.Join(p.dir, "vpt-results")
			args := []string{original, elsewhere}
			if how == "cp" {
				args = append([]string{"-a"}, args...)
			}
			if out, err := exec.Command(how, args...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v %s", how, err, out)
			}
			if how == "mv" {
				// Put it back for the next subtest.
				defer os.Rename(elsewhere, original)
			} else {
				// The original is gone: only the copy can answer.
				hidden := filepath.Join(p.dir, "vpt-results.orig")
				os.Rename(filepath.Join(p.dir, "vpt-results"), hidden)
				defer os.Rename(hidden, filepath.Join(p.dir, "vpt-results"))
			}
			at := []string{"--results-dir", elsewhere}

			r := p.vpt(append(at, "report", "open", "latest")...)
			r.expectOut(t, 0, elsewhere)
			path := strings.TrimSpace(r.stdout)
			if _, err := os.Stat(path); err != nil || !strings.HasSuffix(path, "report.html") {
				t.Fatalf("report open printed %q: %v", path, err)
			}
			p.vpt(append(at, "report", "show", "latest")...).expectOut(t, 0, filepath.Join(elsewhere, "runs"))

			// Regenerating writes into the folder where it is now.
			os.Remove(path)
			p.vpt(append(at, "report", "regenerate", "latest")...).expectOut(t, 0, "regenerated 1 report")
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the report was not regenerated where the folder is: %v", err)
			}
			r = p.vpt(append(at, "report", "regenerate", "--all")...)
			r.expectOut(t, 0, "regenerated 3 report")
			if strings.Contains(r.stdout, "not on this machine") {
				t.Fatalf("regenerate --all: %s", r.stdout)
			}
			// The campaign report, rebuilt, links the runs where they are.
			var list []map[string]any
			json.Unmarshal([]byte(p.vpt(append(at, "report", "list", "--json")...).stdout), &list)
			for _, row := range list {
				if dir, _ := row["run_dir"].(string); !strings.HasPrefix(dir, elsewhere) {
					t.Fatalf("report list --json: run_dir %q is not in %s", dir, elsewhere)
				}
			}
			sums, _ := filepath.Glob(filepath.Join(elsewhere, "campaigns", "*", "summary.json"))
			if len(sums) != 1 {
				t.Fatalf("%d campaign summaries", len(sums))
			}
			b, _ := os.ReadFile(sums[0])
			var sum struct {
				Entries []struct {
					Attempts []struct {
						Report string `json:"report"`
						RunDir string `json:"run_dir"`
					} `json:"attempts"`
				} `json:"entries"`
			}
			json.Unmarshal(b, &sum)
			for _, e := range sum.Entries {
				a := e.Attempts[0]
				if _, err := os.Stat(filepath.Join(filepath.Dir(sums[0]), a.Report)); err != nil || !strings.HasPrefix(a.RunDir, elsewhere) {
					t.Fatalf("campaign attempt links %q, run_dir %q: %v", a.Report, a.RunDir, err)
				}
			}
		})
	}
}

// Campaigns are results: listed, shown, and pruned with their runs, every
// reference left whole.
func TestCampaignsAreResults(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: nightly
name: Nightly
device: device1
script_configurations:
  - {script_name: ok}
  - {script_name: bad, name: the bad one}
  - {script_name: nap, parameters: {s: 0.1}}
`)
	var execs []string
	for i := 0; i < 2; i++ {
		r := p.vpt("campaign", "c.yaml", "--json")
		r.expectOut(t, 1)
		var sum struct {
			Campaign struct {
				ExecutionID string `json:"campaign_execution_id"`
			} `json:"campaign"`
		}
		json.Unmarshal([]byte(r.stdout), &sum)
		execs = append(execs, sum.Campaign.ExecutionID)
	}
	p.vpt("run", "ok").expect(t, 0)

	// The list: newest first.
	r := p.vpt("report", "campaigns")
	r.expectOut(t, 0, "EXECUTION", "Nightly", "failed", "2 passed, 1 failed")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], execs[1]) {
		t.Fatalf("report campaigns:\n%s", r.stdout)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(p.vpt("report", "campaigns", "--json").stdout), &list); err != nil || len(list) != 2 ||
		list[0]["campaign_execution_id"] != execs[1] {
		t.Fatalf("report campaigns --json: %v %v", err, list)
	}
	p.vpt("report", "campaigns", "--status", "completed").expectOut(t, 0, "no campaigns")

	// One campaign, by its execution id or a prefix of it.
	r = p.vpt("report", "show", execs[0])
	r.expectOut(t, 0, "Nightly", execs[0], "the bad one", "nap[s=0.1]", "index.html", "exit code 1")
	var shown map[string]any
	if err := json.Unmarshal([]byte(p.vpt("report", "show", execs[0][:len(execs[0])-3], "--json").stdout), &shown); err != nil || shown["schema"] != "vpt.campaign/v1" {
		t.Fatalf("report show CAMPAIGN --json: %v %v", err, shown)
	}
	p.vpt("report", "open", execs[0]).expectOut(t, 0, filepath.Join("campaigns", execs[0], "index.html"))

	latest := filepath.Join(p.dir, "vpt-results", "latest")
	// Pruning the runs that passed: latest (the run of ok) must move to a
	// run that stays; the campaigns stay, their reports updated.
	r = p.vpt("report", "prune", "--older-than", "0s", "--keep-failed", "--dry-run")
	r.expectOut(t, 0, "would delete 5 result(s)")
	p.vpt("report", "prune", "--older-than", "0s", "--keep-failed").expectOut(t, 0, "deleted 5 result(s)", "updated 2 campaign report(s)")
	target, err := os.Readlink(latest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "vpt-results", target)); err != nil {
		t.Fatalf("latest points at %s, which was deleted", target)
	}
	for _, id := range execs {
		dir := filepath.Join(p.dir, "vpt-results", "campaigns", id)
		b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
		if err != nil {
			t.Fatalf("campaign %s lost its folder: %v", id, err)
		}
		var sum struct {
			Entries []struct {
				Label    string `json:"label"`
				Status   string `json:"status"`
				Attempts []struct {
					Report string `json:"report"`
					Pruned bool   `json:"pruned"`
				} `json:"attempts"`
			} `json:"entries"`
		}
		json.Unmarshal(b, &sum)
		if len(sum.Entries) != 3 {
			t.Fatalf("campaign %s lists %d entries after the prune, want 3", id, len(sum.Entries))
		}
		for _, e := range sum.Entries {
			a := e.Attempts[0]
			if e.Status == "passed" && (!a.Pruned || a.Report != "") {
				t.Fatalf("campaign %s: the pruned run of %s still linked: %+v", id, e.Label, a)
			}
			if e.Status == "failed" {
				if _, err := os.Stat(filepath.Join(dir, a.Report)); err != nil || a.Pruned {
					t.Fatalf("campaign %s: the kept run of %s: %+v %v", id, e.Label, a, err)
				}
			}
		}
	}

	// Pruning the rest: the campaigns whose runs are all gone go too, and
	// latest with them.
	p.vpt("report", "prune", "--older-than", "0s", "--dry-run").expectOut(t, 0, "would delete 2 result(s)", "would delete 2 campaign(s)")
	p.vpt("report", "prune", "--older-than", "0s").expectOut(t, 0, "deleted 2 result(s)", "deleted 2 campaign(s)")
	p.vpt("report", "campaigns").expectOut(t, 0, "no campaigns")
	if entries, _ := os.ReadDir(filepath.Join(p.dir, "vpt-results", "campaigns")); len(entries) != 0 {
		t.Fatalf("%d campaign folders left", len(entries))
	}
	if _, err := os.Lstat(latest); err == nil {
		t.Fatal("latest is left pointing at nothing")
	}
}

// A retried entry's run reports link each other, and keep doing so when
// one is uploaded later (which writes the run's report again).
func TestAttemptLinksSurviveAnUpload(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", "campaign_id: retry\nname: Retry\ndevice: device1\nscript_configurations:\n  - {script_name: second_try, retries: 1}\n")
	p.vpt("campaign", "c.yaml").expect(t, 0)
	sum := p.campaignSummary(t)
	if len(sum.Entries) != 1 || len(sum.Entries[0].Attempts) != 2 {
		t.Fatalf("entries: %+v", sum.Entries)
	}
	id := sum.Entries[0].Attempts[0].ResultID
	first := filepath.Join(p.dir, "vpt-results", "runs", id, "report.html")
	second := "../" + sum.Entries[0].Attempts[1].ResultID + "/report.html"
	links := func(when string) {
		t.Helper()
		b, err := os.ReadFile(first)
		if err != nil || !strings.Contains(string(b), `href="`+second+`"`) {
			t.Fatalf("%s: the first attempt's report does not link the second (%s): %v", when, second, err)
		}
	}
	links("after the campaign")
	env := []string{"VPT_UPLOAD_ENDPOINT=file://" + filepath.Join(p.dir, "published"), "VPT_UPLOAD_PUBLIC_URL=https://lab.example/vpt"}
	p.vptEnv(env, "report", "upload", id).expectOut(t, 0, "uploaded")
	links("after the upload")
}

// A script that runs vpt (api_shell.sh-style) gets VPT_RESULTS_DIR as the
// folder of its own run: the vpt it starts records into the results folder
// that holds that run, where the outer commands see it, and does not warn
// of the variables vpt set for the script.
func TestVptRunFromAScript(t *testing.T) {
	p := examplesProject(t)
	p.write("test_scripts/inner.py", "print('inner ran')\n")
	p.write("test_scripts/outer.py", `import os, subprocess, sys
r = subprocess.run([os.environ["VPT_BIN"], "run", "inner", "--video", "off", "-d", "device3"], capture_output=True, text=True)
print(r.stdout + r.stderr)
sys.exit(r.returncode)
`)
	r := p.vpt("run", "outer", "--video", "off")
	r.expect(t, 0, "PASSED inner")
	if strings.Contains(r.stdout+r.stderr, "is not a variable of vpt's") {
		t.Fatalf("the inner vpt warned of the script's variables:\n%s", r.stdout+r.stderr)
	}
	var names []string
	for _, row := range p.results() {
		names = append(names, row.ScriptName)
		if strings.Contains(row.RunDir, string(filepath.Separator)+"runs"+string(filepath.Separator)+"runs") {
			t.Fatalf("the inner run's folder is inside the outer's: %s", row.RunDir)
		}
	}
	if slices.Sort(names); strings.Join(names, ",") != "inner,outer" {
		t.Fatalf("results: %v", names)
	}
}
