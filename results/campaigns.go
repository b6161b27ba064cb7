package results

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// campaignPlan is what a prune does to the campaigns whose runs it
// deletes: those left with no run go (row and folder), the others get
// their reports written again, the pruned runs marked as such.
type campaignPlan struct {
	remove []store.Campaign
	update []store.Campaign
}

// planCampaigns finds what deleting the runs gone (by id) does to the
// campaigns. It reads before the runs are deleted, since deleting a run
// unlinks it from its campaign. A campaign still running is left alone; a
// campaign that started before the cutoff and keeps no run goes, even when
// none of gone was its (its runs were pruned before).
func planCampaigns(ctx context.Context, st Store, gone map[string]bool, o PruneOptions) (campaignPlan, error) {
	var plan campaignPlan
	list, err := st.ListCampaigns(ctx, store.CampaignFilter{})
	if err != nil {
		return plan, err
	}
	for _, c := range list {
		// A campaign's runs start after it does.
		if c.Status == "running" || !c.StartedAt.Before(o.Before) {
			continue
		}
		_, entries, err := st.GetCampaign(ctx, c.ID)
		if err != nil {
			return plan, err
		}
		lost, kept := 0, 0
		for _, e := range entries {
			switch {
			case e.ScriptResultID == "":
			case gone[e.ScriptResultID]:
				lost++
			default:
				kept++
			}
		}
		switch {
		case kept == 0:
			plan.remove = append(plan.remove, c)
		case lost > 0:
			plan.update = append(plan.update, c)
		}
	}
	return plan, nil
}

// apply deletes the campaigns of remove (the row, then the folder when it
// is inside the results folder) and writes again the reports of update.
// It stops at the first error of the store; Warn hears of a folder that
// could not be deleted or a report that could not be written.
func (p campaignPlan) apply(ctx context.Context, st Store, o PruneOptions) error {
	for _, c := range p.remove {
		// Its uploaded report first, as a run's uploaded copy goes first.
		if o.RemoteCampaigns != nil && c.HTMLReportR2Path != "" {
			if err := o.RemoteCampaigns.DeleteCampaign(ctx, c); err != nil {
				return fmt.Errorf("campaign %s: its uploaded report: %w", c.ExecutionID, err)
			}
		}
		if err := st.DeleteCampaign(ctx, c.ID); err != nil {
			return fmt.Errorf("campaign %s: %w", c.ExecutionID, err)
		}
		dir := campaignDir(o.ResultsDir, c)
		if within(filepath.Join(o.ResultsDir, "campaigns"), dir) {
			if err := os.RemoveAll(dir); err != nil {
				o.warn("could not delete %s: %v", dir, err)
			}
		}
	}
	for _, c := range p.update {
		dir := campaignDir(o.ResultsDir, c)
		sum, res, err := summary.Load(ctx, st, c.ID, report.RunLink(dir))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("campaign %s: %w", c.ExecutionID, err)
		}
		if err := report.WriteCampaign(dir, sum, res); err != nil {
			o.warn("campaign %s: its report: %v", c.ExecutionID, err)
		}
		if o.RemoteCampaigns != nil && c.HTMLReportR2Path != "" {
			if err := o.RemoteCampaigns.UploadCampaign(ctx, dir, sum, res); err != nil {
				o.warn("campaign %s: its uploaded report, not written again: %v", c.ExecutionID, err)
			}
		}
	}
	return nil
}

func campaignDir(resultsDir string, c store.Campaign) string {
	if c.ReportDir != "" {
		return c.ReportDir
	}
	return report.CampaignDir(resultsDir, c.ExecutionID)
}

// LatestLink is the results folder's link to the newest run folder.
const LatestLink = "latest"

// repairLatest points resultsDir/latest at the newest run whose folder is
// there when the folder it points at is gone, and removes it when no run
// folder is left: it never points at nothing. It reports whether it
// changed the link.
func repairLatest(ctx context.Context, st Store, resultsDir string) (bool, error) {
	link := filepath.Join(resultsDir, LatestLink)
	target, err := os.Readlink(link)
	if err != nil {
		return false, nil // no link: nothing points anywhere
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(resultsDir, target)
	}
	if _, err := os.Stat(target); err == nil {
		return false, nil
	}
	runs := filepath.Join(resultsDir, "runs")
	var after *store.Cursor
	for {
		rows, err := st.ListResults(ctx, store.ResultFilter{After: after, Limit: 100})
		if err != nil {
			return false, err
		}
		for _, r := range rows {
			if within(runs, r.RunDir) {
				if _, err := os.Stat(r.RunDir); err == nil {
					return true, swapLink(link, filepath.Join("runs", filepath.Base(r.RunDir)))
				}
			}
		}
		if len(rows) < 100 {
			break
		}
		last := rows[len(rows)-1]
		after = &store.Cursor{StartedAt: last.StartedAt, ID: last.ID}
	}
	return true, os.Remove(link)
}

// latestWouldMove tells whether repairLatest would change the link once
// the doomed runs are deleted (what a dry run reports): it points at one
// of them, or at nothing already.
func latestWouldMove(resultsDir string, doomed []store.Result) bool {
	target, err := os.Readlink(filepath.Join(resultsDir, LatestLink))
	if err != nil {
		return false
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(resultsDir, target)
	}
	at, err := os.Stat(target)
	if err != nil {
		return true
	}
	for _, r := range doomed {
		if filepath.Base(r.RunDir) != filepath.Base(target) {
			continue
		}
		if st, err := os.Stat(r.RunDir); err == nil && os.SameFile(at, st) {
			return true
		}
	}
	return false
}

// swapLink makes link point at target, atomically.
func swapLink(link, target string) error {
	tmp := link + ".tmp-repair"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
