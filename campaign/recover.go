package campaign

import (
	"context"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// RecoveryStore is what campaign recovery needs of the results store.
type RecoveryStore interface {
	summary.Source
	GetResult(ctx context.Context, id string) (*store.Result, error)
	RunningCampaigns(ctx context.Context) ([]store.Campaign, error)
	FinishCampaign(ctx context.Context, c *store.Campaign, evs ...store.Event) (bool, error)
	PutCampaignEntry(ctx context.Context, e store.CampaignEntry, evs ...store.Event) error
	ListResults(ctx context.Context, f store.ResultFilter) ([]store.Result, error)
}

// Recover finishes the campaigns whose vpt process died, as run recovery
// finishes runs (recover the runs first, so that the campaign sees their
// final status): their entries get the status of the runs they link, the
// row gets its statistics and the status abandoned, and the campaign folder
// its reports. A sharded campaign is recovered only once no shard has
// reported for two heartbeats, since any shard keeps it alive.
func Recover(ctx context.Context, st RecoveryStore, resultsDir string) ([]store.Campaign, error) {
	running, err := st.RunningCampaigns(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Campaign
	for i := range running {
		c := &running[i]
		if !campaignDead(c) {
			continue
		}
		ok, err := recoverCampaign(ctx, st, c, resultsDir)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, *c)
		}
	}
	return out, nil
}

func campaignDead(c *store.Campaign) bool {
	switch store.OwnerLife(c.Owner, c.HeartbeatAt) {
	case store.Stale:
		return true
	case store.Dead:
		return c.ShardTotal <= 1 || time.Since(c.HeartbeatAt) > 2*store.HeartbeatEvery
	}
	return false
}

func recoverCampaign(ctx context.Context, st RecoveryStore, c *store.Campaign, resultsDir string) (bool, error) {
	_, entries, err := st.GetCampaign(ctx, c.ID)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.Status != store.StatusRunning {
			continue
		}
		if e.ScriptResultID == "" {
			e.Status, e.Error = store.StatusAbandoned, "the campaign's vpt process died"
		} else if r, err := st.GetResult(ctx, e.ScriptResultID); err == nil {
			if !r.Status.Final() {
				return false, nil // its run is alive elsewhere, or not recovered yet
			}
			e.Status, e.Error, e.DurationMs = r.Status, r.ErrorMsg, r.ExecutionTimeMs
		}
		if err := st.PutCampaignEntry(ctx, e); err != nil {
			return false, err
		}
	}
	if err := recordNotRun(ctx, st, c, entries); err != nil {
		return false, err
	}
	dir := c.ReportDir
	if dir == "" {
		dir = report.CampaignDir(resultsDir, c.ExecutionID)
	}
	sum, results, err := summary.Load(ctx, st, c.ID, report.RunLink(dir))
	if err != nil {
		return false, err
	}
	total := c.Stats.Total
	end := lastSign(c, sum)
	c.Stats = summary.Stats(sum, total)
	c.Status, c.Success, c.CompletedAt, c.ReportDir = StatusAbandoned, false, &end, dir
	c.ExecutionTimeMs = end.Sub(c.StartedAt).Milliseconds()
	c.ErrorMessage = "the vpt process running this campaign stopped without finishing it"
	stats := c.Stats
	finished := store.NewEvent(store.EventCampaignFinished, store.CampaignData{Name: c.Name, Status: c.Status,
		Shards: c.ShardTotal, Stats: &stats, Done: true, Reason: c.ErrorMessage})
	finished.CampaignID, finished.HostName = c.ExecutionID, c.HostName
	changed, err := st.FinishCampaign(ctx, c, finished)
	if err != nil || !changed {
		return false, err
	}
	sum.Campaign = c
	_ = report.WriteCampaign(dir, sum, results)
	return true, nil
}

// recordNotRun records each entry of the campaign's file that no attempt
// started as not_run, as a campaign that is stopped records them: its
// summary.json, junit.xml and report list every entry. A run of the
// campaign that no entry links (unlinkedRuns) is recorded first, as the
// attempt it was.
func recordNotRun(ctx context.Context, st RecoveryStore, c *store.Campaign, entries []store.CampaignEntry) error {
	started := map[int]bool{}
	for _, e := range entries {
		started[e.Index] = true
	}
	orphans, err := unlinkedRuns(ctx, st, c, entries)
	if err != nil {
		return err
	}
	configs, _ := c.ScriptConfigurations.([]any)
	for _, r := range orphans {
		e := configEntry(c, configs, *r.Details.Entry)
		e.Attempt, e.DeviceID, e.Status, e.ScriptResultID = max(r.Details.Attempt, 1), r.DeviceID, r.Status, r.ID
		e.StartedAt, e.DurationMs, e.RunDir, e.Error = r.StartedAt, r.ExecutionTimeMs, r.RunDir, r.ErrorMsg
		if err := st.PutCampaignEntry(ctx, e); err != nil {
			return err
		}
		started[e.Index] = true
	}
	for i := range configs {
		if started[i] {
			continue
		}
		if err := st.PutCampaignEntry(ctx, configEntry(c, configs, i)); err != nil {
			return err
		}
	}
	return nil
}

// configEntry is entry i of the campaign's file, not run.
func configEntry(c *store.Campaign, configs []any, i int) store.CampaignEntry {
	var m map[string]any
	if i < len(configs) {
		m, _ = configs[i].(map[string]any)
	}
	name, _ := m["script_name"].(string)
	device, _ := m["device"].(string)
	shard := 1
	if c.ShardTotal > 1 {
		shard = i%c.ShardTotal + 1
	}
	return store.CampaignEntry{CampaignID: c.ID, Index: i, Attempt: 1, Shard: shard,
		ScriptName: strings.TrimSuffix(name, ".py"), DeviceID: device, Status: store.StatusNotRun,
		StartedAt: time.Now().UTC(), Error: "not run: the campaign's vpt process died"}
}

// unlinkedRuns finds the runs of the campaign that no entry links: a vpt
// killed between a run's row and its entry's leaves one.
func unlinkedRuns(ctx context.Context, st RecoveryStore, c *store.Campaign, entries []store.CampaignEntry) ([]*store.Result, error) {
	linked := map[string]bool{}
	for _, e := range entries {
		linked[e.ScriptResultID] = true
	}
	rows, err := st.ListResults(ctx, store.ResultFilter{Since: c.StartedAt})
	if err != nil {
		return nil, err
	}
	var out []*store.Result
	for _, row := range rows {
		if linked[row.ID] {
			continue
		}
		r, err := st.GetResult(ctx, row.ID)
		if err != nil {
			continue // pruned meanwhile
		}
		if d := r.Details; d.CampaignID == c.ExecutionID && d.Entry != nil && *d.Entry >= 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// lastSign is when a campaign was last known alive: its last heartbeat,
// or the end of its latest attempt, since a campaign that dies before its
// first heartbeat has only those.
func lastSign(c *store.Campaign, sum summary.Summary) time.Time {
	end := c.HeartbeatAt
	if end.Before(c.StartedAt) {
		end = c.StartedAt
	}
	for _, e := range sum.Entries {
		for _, a := range e.Attempts {
			if a.StartedAt.IsZero() {
				continue
			}
			if done := a.StartedAt.Add(time.Duration(a.DurationMs) * time.Millisecond); done.After(end) {
				end = done
			}
		}
	}
	return end.UTC()
}
