package main

// The results folder as a whole: moved or copied (a CI artifact), it still
// works; pruned, its references stay whole; its campaigns are results too.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
