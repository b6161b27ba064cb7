package results

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/store"
)

// PruneOptions say what Prune deletes.
type PruneOptions struct {
	// Before: results that started before it go.
	Before time.Time
	// KeepFailed keeps every result that did not pass.
	KeepFailed bool
	// DryRun deletes nothing and says what would go.
	DryRun bool
	// ResultsDir is the results folder: a run folder is deleted only when
	// it is inside its runs/, a campaign folder only inside campaigns/, and
	// its latest link is kept pointing at a run that is there.
	ResultsDir string
	// Remote deletes a run's uploaded copy before its row (nil: uploaded
	// copies stay).
	Remote func(ctx context.Context, r *store.Result) error
	// RemoteCampaigns keeps the uploaded reports of the campaigns a prune
	// deletes or writes again in step with them (nil: they stay as
	// uploaded, linking to the runs deleted).
	RemoteCampaigns CampaignRemote
	// Pruned hears of each result deleted (or, with DryRun, that would be).
	Pruned func(r store.Result)
	// Warn hears of a run folder that could not be deleted (its row is gone).
	Warn func(format string, args ...any)
}

// CampaignRemote is where campaign reports were uploaded (upload.Uploader).
type CampaignRemote interface {
	// DeleteCampaign removes a campaign's uploaded report.
	DeleteCampaign(ctx context.Context, c store.Campaign) error
	// UploadCampaign uploads a campaign's report again.
	UploadCampaign(ctx context.Context, dir string, sum summary.Summary, results map[string]*store.Result) error
}

// PruneReport is what Prune did (or, with DryRun, would do); it is
// `vpt report prune --json` (docs/result-json.md).
type PruneReport struct {
	DryRun  bool `json:"dry_run"`
	Deleted int  `json:"deleted"`
	Kept    int  `json:"kept"`
	// Bytes is the size of the run folders deleted.
	Bytes int64 `json:"bytes"`
	// Results are the results deleted.
	Results []PrunedResult `json:"results"`
	// CampaignsDeleted are the campaign executions left with no run
	// (row and folder deleted); CampaignsUpdated those that keep some,
	// whose reports were written again with the pruned runs marked.
	CampaignsDeleted []string `json:"campaigns_deleted"`
	CampaignsUpdated []string `json:"campaigns_updated"`
	// LatestRepaired: the results folder's latest link pointed at a
	// deleted run; it was moved to the newest run left, or removed (with
	// DryRun: it would be).
	LatestRepaired bool `json:"latest_repaired"`
	// Events deleted from the event log (none counted with DryRun).
	Events int64 `json:"events_deleted"`
}

// PrunedResult is a result Prune deleted.
type PrunedResult struct {
	ID        string       `json:"id"`
	Script    string       `json:"script_name"`
	Status    store.Status `json:"status"`
	StartedAt time.Time    `json:"started_at"`
	RunDir    string       `json:"run_dir,omitempty"`
}

// Prune deletes old results: for each, its uploaded copy (Remote), then
// its row, then its run folder; then the events older than Before, so that
// the event log keeps the same history as the results. A running result is
// never touched. References stay whole: a campaign left with no run goes
// (row and folder), one that keeps some has its report written again, and
// the latest link never points at a deleted run. It stops at the first
// error of the store or of Remote; what was deleted until then is counted.
func Prune(ctx context.Context, st Store, o PruneOptions) (PruneReport, error) {
	rep := PruneReport{DryRun: o.DryRun, Results: []PrunedResult{}, CampaignsDeleted: []string{}, CampaignsUpdated: []string{}}
	rows, err := st.ListResults(ctx, store.ResultFilter{Before: o.Before})
	if err != nil {
		return rep, err
	}
	var doomed []store.Result
	gone := map[string]bool{}
	for _, r := range rows {
		if r.Status == store.StatusRunning || o.KeepFailed && r.Status != store.StatusPassed {
			rep.Kept++
			continue
		}
		doomed = append(doomed, r)
		gone[r.ID] = true
	}
	// Read before the runs go: deleting a run unlinks it from its campaign.
	plan, err := planCampaigns(ctx, st, gone, o)
	if err != nil {
		return rep, err
	}
	for _, c := range plan.remove {
		rep.CampaignsDeleted = append(rep.CampaignsDeleted, c.ExecutionID)
	}
	for _, c := range plan.update {
		rep.CampaignsUpdated = append(rep.CampaignsUpdated, c.ExecutionID)
	}
	for _, r := range doomed {
		size := dirSize(r.RunDir)
		if !o.DryRun {
			if err := o.prune(ctx, st, &r); err != nil {
				return rep, err
			}
		}
		if o.Pruned != nil {
			o.Pruned(r)
		}
		rep.Results = append(rep.Results, PrunedResult{ID: r.ID, Script: r.ScriptName, Status: r.Status, StartedAt: r.StartedAt, RunDir: r.RunDir})
		rep.Deleted++
		rep.Bytes += size
	}
	if o.DryRun {
		rep.LatestRepaired = latestWouldMove(o.ResultsDir, doomed)
		return rep, nil
	}
	if err := plan.apply(ctx, st, o); err != nil {
		return rep, err
	}
	if rep.LatestRepaired, err = repairLatest(ctx, st, o.ResultsDir); err != nil {
		o.warn("could not repair %s: %v", filepath.Join(o.ResultsDir, LatestLink), err)
	}
	rep.Events, err = st.PruneEvents(ctx, o.Before)
	return rep, err
}

func (o PruneOptions) warn(format string, args ...any) {
	if o.Warn != nil {
		o.Warn(format, args...)
	}
}

func (o PruneOptions) prune(ctx context.Context, st Store, r *store.Result) error {
	if o.Remote != nil && r.UploadStatus == store.UploadDone {
		if err := o.Remote(ctx, r); err != nil {
			return fmt.Errorf("run %s: its uploaded copy: %w (nothing of the run was deleted)", r.ID[:8], err)
		}
	}
	// The row goes first: a folder without a row is only disk space, a row
	// without its folder would be a broken link.
	if err := st.DeleteResult(ctx, r.ID); err != nil {
		return err
	}
	if r.RunDir != "" && within(filepath.Join(o.ResultsDir, "runs"), r.RunDir) {
		if err := os.RemoveAll(r.RunDir); err != nil {
			o.warn("could not delete %s: %v", r.RunDir, err)
		}
	}
	return nil
}

// within reports whether path is inside dir (both made absolute).
func within(dir, path string) bool {
	ad, err1 := filepath.Abs(dir)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ad, ap)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
