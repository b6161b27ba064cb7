package cmd

import (
	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/campaign/summary"
)

// planView is `vpt campaign --dry-run --json`: what would run, where and
// how (docs/result-json.md).
type planView struct {
	Schema            string          `json:"schema"`
	CampaignID        string          `json:"campaign_id"`
	Name              string          `json:"name"`
	File              string          `json:"file"`
	Total             int             `json:"total"`
	Mode              string          `json:"mode"` // sequential, parallel, distributed
	Devices           []string        `json:"devices"`
	Workers           int             `json:"workers"`
	TimeoutMs         int64           `json:"timeout_ms"`
	ContinueOnFailure bool            `json:"continue_on_failure"`
	Retries           int             `json:"retries"`
	MaxFailures       int             `json:"max_failures"`
	Shard             int             `json:"shard,omitempty"`
	Shards            int             `json:"shards,omitempty"`
	Entries           []planEntryView `json:"entries"`
}

type planEntryView struct {
	Index         int      `json:"index"`
	Label         string   `json:"label"`
	Script        string   `json:"script_name"`
	Path          string   `json:"script_path"`
	Device        string   `json:"device"` // "" for any of the pool
	UserInterface string   `json:"userinterface,omitempty"`
	TimeoutMs     int64    `json:"timeout_ms"`
	Retries       int      `json:"retries"`
	Arguments     []string `json:"arguments"`
}

// planSchema names the version of planView's shape.
const planSchema = "vpt.plan/v1"

func newPlanView(plan *campaign.Plan) planView {
	f, s := plan.File, plan.Settings
	v := planView{Schema: planSchema, CampaignID: f.CampaignID, Name: f.DisplayName(), File: f.Path, Total: plan.Total,
		Mode: "sequential", Devices: append([]string{}, plan.Pool...), Workers: plan.Workers, TimeoutMs: s.Timeout.Milliseconds(),
		ContinueOnFailure: s.ContinueOnFailure, Retries: s.Retries, MaxFailures: s.MaxFailures, Entries: []planEntryView{}}
	switch {
	case plan.Placed:
		v.Mode = "distributed"
	case s.Parallel:
		v.Mode = "parallel"
	}
	if plan.Options.Shards > 1 {
		v.Shard, v.Shards = plan.Options.Shard, plan.Options.Shards
	}
	labels := summary.Labels(f.ScriptConfigurations)
	for _, e := range plan.Entries {
		ev := planEntryView{Index: e.Index, Label: e.Script.Name, Script: e.Script.Name, Path: e.Script.Path, Device: e.Device,
			UserInterface: e.UserInterface, TimeoutMs: e.Timeout.Milliseconds(), Retries: e.Retries, Arguments: append([]string{}, e.Args...)}
		if e.Index < len(labels) {
			ev.Label = labels[e.Index]
		}
		v.Entries = append(v.Entries, ev)
	}
	return v
}
