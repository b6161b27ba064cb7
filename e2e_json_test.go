package main

// --json, as CI reads it: every command that prints a result prints it
// as one JSON document on stdout, in the shapes docs/result-json.md
// documents.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// decode reads a command's stdout as JSON into v, failing on anything
// else (text, or nothing).
func decode(t *testing.T, r result, code int, v any) {
	t.Helper()
	r.expectOut(t, code)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("--json printed no JSON (%v):\n%s", err, r.stdout)
	}
}

func TestJSONEverywhere(t *testing.T) {
	p := campaignProject(t)
	p.write("c.yaml", `campaign_id: j
name: J
device: device1
script_configurations:
  - {script_name: ok, name: first}
  - {script_name: nap, parameters: {s: 0.1}, retries: 2}
`)

	// The plan of a dry run.
	var plan struct {
		Schema  string   `json:"schema"`
		Total   int      `json:"total"`
		Devices []string `json:"devices"`
		Entries []struct {
			Label     string   `json:"label"`
			Script    string   `json:"script_name"`
			Retries   int      `json:"retries"`
			Arguments []string `json:"arguments"`
		} `json:"entries"`
	}
	decode(t, p.vpt("campaign", "c.yaml", "--dry-run", "--json"), 0, &plan)
	if plan.Schema != "vpt.plan/v1" || plan.Total != 2 || len(plan.Entries) != 2 || plan.Entries[0].Label != "first" ||
		plan.Entries[1].Label != "nap[s=0.1]" || plan.Entries[1].Retries != 2 || strings.Join(plan.Entries[1].Arguments, " ") != "--s 0.1" ||
		len(plan.Devices) != 1 {
		t.Fatalf("plan: %+v", plan)
	}

	// ui check: valid and invalid, still exit 2 for the invalid one.
	p.write("userinterfaces/broken.yaml", "name: broken\nentry: home\nnodes:\n  - {id: home, lable: x}\n")
	var checks []struct {
		Name     string `json:"name"`
		Valid    bool   `json:"valid"`
		Nodes    int    `json:"nodes"`
		Problems []struct {
			Line    int    `json:"line"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"problems"`
	}
	decode(t, p.vpt("ui", "check", "horizon_tv", "broken", "--json"), 2, &checks)
	if len(checks) != 2 || !checks[0].Valid || checks[0].Nodes == 0 || checks[1].Valid || len(checks[1].Problems) == 0 ||
		checks[1].Problems[0].Line != 4 || !strings.Contains(checks[1].Problems[0].Field, "lable") {
		t.Fatalf("ui check: %+v", checks)
	}

	// ui reference.
	var ref struct {
		Path   string `json:"path"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		Node   string `json:"node"`
	}
	decode(t, p.vpt("ui", "reference", "live_info", "--json", "-o", filepath.Join(p.dir, "li.png")), 0, &ref)
	if ref.Node != "live_info" || ref.Width == 0 || ref.Height == 0 || !strings.HasSuffix(ref.Path, "li.png") {
		t.Fatalf("ui reference: %+v", ref)
	}

	// report open, regenerate and prune.
	p.vpt("run", "ok").expect(t, 0)
	res := p.only()
	var open struct {
		Kind, ID, Path, URL string
	}
	decode(t, p.vpt("report", "open", "latest", "--json"), 0, &open)
	if open.Kind != "run" || open.ID != res.ID || open.Path != filepath.Join(res.RunDir, "report.html") {
		t.Fatalf("report open: %+v", open)
	}
	var regen map[string]int
	decode(t, p.vpt("report", "regenerate", "--all", "--json"), 0, &regen)
	if regen["regenerated"] != 1 {
		t.Fatalf("report regenerate: %v", regen)
	}
	env := []string{"VPT_UPLOAD_ENDPOINT=file://" + filepath.Join(p.dir, "published"), "VPT_UPLOAD_PUBLIC_URL=https://lab.example/vpt"}
	var up struct {
		Uploaded []struct {
			ID        string `json:"id"`
			ReportURL string `json:"report_url"`
		} `json:"uploaded"`
		Failed  []any `json:"failed"`
		Skipped []any `json:"skipped"`
	}
	decode(t, p.vptEnv(env, "report", "upload", res.ID, "--json"), 0, &up)
	if len(up.Uploaded) != 1 || up.Uploaded[0].ID != res.ID || !strings.HasPrefix(up.Uploaded[0].ReportURL, "https://lab.example/vpt/") ||
		up.Failed == nil || up.Skipped == nil {
		t.Fatalf("report upload: %+v", up)
	}
	var prune struct {
		DryRun  bool `json:"dry_run"`
		Deleted int  `json:"deleted"`
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
		CampaignsDeleted []string `json:"campaigns_deleted"`
		LatestRepaired   bool     `json:"latest_repaired"`
	}
	decode(t, p.vpt("report", "prune", "--older-than", "0s", "--dry-run", "--json"), 0, &prune)
	if !prune.DryRun || prune.Deleted != 1 || len(prune.Results) != 1 || prune.Results[0].ID != res.ID || prune.CampaignsDeleted == nil ||
		!prune.LatestRepaired {
		t.Fatalf("report prune: %+v", prune)
	}

	// A script with no parameters lists [] of them.
	r := p.vpt("scripts", "--json")
	r.expectOut(t, 0)
	if strings.Contains(r.stdout, `"parameters": null`) || !strings.Contains(r.stdout, `"parameters": []`) {
		t.Fatalf("scripts --json:\n%s", r.stdout)
	}
}

// With --json, an error is JSON on stderr, a flag error too (it stops the
// parsing before --json is read).
func TestJSONFlagError(t *testing.T) {
	p := newProject(t)
	r := p.vpt("run", fixture(t, "noop.py"), "--bogus", "--json")
	var e struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stderr)), &e); err != nil || r.code != 2 || e.ExitCode != 2 || !strings.Contains(e.Error, "--bogus") {
		t.Fatalf("exit %d, stderr %q (%v)", r.code, r.stderr, err)
	}
	// After "--" a --json is the script's.
	if r := p.vpt("run", fixture(t, "noop.py"), "--bogus", "--", "--json"); strings.HasPrefix(r.stderr, "{") {
		t.Fatalf("stderr %q", r.stderr)
	}
}
