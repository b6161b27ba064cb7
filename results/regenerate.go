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

// ErrNotHere: a run's folder is not on this machine (a usage error when
// that run was asked for by name).
var ErrNotHere = errors.New("not on this machine")

// RegenerateReport counts what Regenerate did.
type RegenerateReport struct {
	Done int
	// Skipped runs have no folder on this machine.
	Skipped int
	// Kept are the runs whose report was left as it is: their output.log
	// is gone, and a new report would lose the output the old one shows.
	Kept []*store.Result
}

// Regenerate rebuilds report.html and result.json of each run from the
// store and its folder (after an upgrade of vpt, old reports get the new
// template), then the reports of the campaigns the runs belong to, in
// resultsDir. A run whose folder is not here is skipped; with strict, it
// is an error wrapping ErrNotHere instead.
func Regenerate(ctx context.Context, st Store, resultsDir string, runs []*store.Result, strict bool) (RegenerateReport, error) {
	var rep RegenerateReport
	for _, r := range runs {
		if r.RunDir == "" {
			rep.Skipped++
			continue
		}
		if _, err := os.Stat(r.RunDir); err != nil {
			if strict {
				return rep, fmt.Errorf("run folder %s is %w", r.RunDir, ErrNotHere)
			}
			rep.Skipped++
			continue
		}
		if err := report.WriteResultJSON(r); err != nil {
			return rep, fmt.Errorf("run %s: %w", r.ID[:8], err)
		}
		if outputLost(r) {
			rep.Kept = append(rep.Kept, r)
			continue
		}
		if err := report.WriteRunReport(r, nil); err != nil {
			return rep, fmt.Errorf("run %s: %w", r.ID[:8], err)
		}
		rep.Done++
	}
	return rep, regenerateCampaigns(ctx, st, resultsDir, runs)
}

// outputLost tells whether a run printed output its folder no longer
// has, while its report, made when it had, is still there.
func outputLost(r *store.Result) bool {
	if r.Details.OutputBytes == 0 {
		return false
	}
	if _, err := os.Stat(filepath.Join(r.RunDir, report.OutputLog)); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	_, err := os.Stat(filepath.Join(r.RunDir, report.ReportHTML))
	return err == nil
}

// regenerateCampaigns rebuilds the reports of the campaigns that hold the
// runs; a campaign deleted since is passed over.
func regenerateCampaigns(ctx context.Context, st Store, resultsDir string, runs []*store.Result) error {
	for _, id := range summary.Executions(runs) {
		dir := report.CampaignDir(resultsDir, id)
		sum, results, err := summary.Load(ctx, st, id, report.RunLink(dir))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("campaign %s: %w", id, err)
		}
		if err := report.WriteCampaign(dir, sum, results); err != nil {
			return fmt.Errorf("campaign %s: %w", id, err)
		}
	}
	return nil
}
