package upload

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// recordBudget bounds the store write that records an upload's outcome,
// which happens even after the upload was interrupted: the row must say
// why it is pending.
const recordBudget = 10 * time.Second

// Publish uploads a run and records the outcome in st. The row is marked
// pending before the first byte, so a vpt killed during the upload leaves
// it pending for Republish; afterwards it says uploaded, or pending with
// the reason.
//
// Under the run's upload lock (UploadRun): one that waited for another
// process takes the row as that one left it, and is done if it says
// uploaded.
func (u *Uploader) Publish(ctx context.Context, st store.Store, r *store.Result) error {
	release, waited, err := u.lock(ctx, r)
	if err != nil {
		return u.failed(ctx, r, err)
	}
	defer release()
	if waited {
		now, err := st.GetResult(ctx, r.ID)
		if err != nil {
			return err
		}
		if *r = *now; r.UploadStatus == store.UploadDone {
			return nil
		}
	}
	return u.publish(ctx, st, r)
}

// publish marks the row pending, uploads, and records the outcome.
func (u *Uploader) publish(ctx context.Context, st store.Store, r *store.Result) error {
	r.UploadStatus = store.UploadPending
	if err := st.UpdateResult(ctx, r); err != nil {
		return err
	}
	err := u.upload(ctx, r)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordBudget)
	defer cancel()
	if serr := st.UpdateResult(rctx, r); serr != nil {
		return errors.Join(err, fmt.Errorf("recording the upload of run %s: %w", shortID(r.ID), serr))
	}
	return err
}

// PublishCampaign uploads a campaign's report (UploadCampaign) and records
// its URL in st.
func (u *Uploader) PublishCampaign(ctx context.Context, st store.Store, dir string, sum summary.Summary, results map[string]*store.Result) error {
	if err := u.UploadCampaign(ctx, dir, sum, results); err != nil {
		return err
	}
	return st.UpdateCampaign(ctx, sum.Campaign)
}

// Skipped is a pending run that Pending leaves alone, and why.
type Skipped struct {
	Result *store.Result
	Why    string
}

// Pending returns the runs whose upload is pending and can be retried
// here: not those whose folder is not on this machine, nor those whose own
// vpt may still be uploading them, as inUse judges (nil: none is).
func Pending(ctx context.Context, st store.Store, inUse func(*store.Result) bool) (runs []*store.Result, skipped []Skipped, err error) {
	rows, err := st.ListResults(ctx, store.ResultFilter{Upload: store.UploadPending})
	if err != nil {
		return nil, nil, err
	}
	for _, row := range rows {
		r, err := st.GetResult(ctx, row.ID)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case r.RunDir == "" || !fileExists(r.RunDir):
			skipped = append(skipped, Skipped{r, fmt.Sprintf("its folder %s is not on this machine (host %s ran it)", r.RunDir, r.HostName)})
		case inUse != nil && inUse(r):
			skipped = append(skipped, Skipped{r, fmt.Sprintf("the vpt that ran it (pid %d on %s) may still be uploading it", r.PID, r.HostName)})
		default:
			runs = append(runs, r)
		}
	}
	return runs, skipped, nil
}

// Outcome is what became of one run in Republish: uploaded (Err nil), or
// not, and why.
type Outcome struct {
	Result *store.Result
	Err    error
}

// Republish publishes runs one after another, telling done (when set)
// about each as it ends, then refreshes the uploaded reports of the
// campaigns they belong to (their campaign folders are under resultsDir).
// It stops at the first run after ctx ends; the runs it did not reach stay
// as they were. It returns every run's outcome, and the first error of the
// campaigns.
func (u *Uploader) Republish(ctx context.Context, st store.Store, runs []*store.Result, resultsDir string, done func(Outcome)) ([]Outcome, error) {
	var out []Outcome
	var uploaded []*store.Result
	for _, r := range runs {
		if ctx.Err() != nil {
			break
		}
		o := Outcome{Result: r}
		if r.Status == store.StatusRunning {
			o.Err = fmt.Errorf("run %s is still running: it is uploaded when it ends", shortID(r.ID))
		} else {
			o.Err = u.Publish(ctx, st, r)
		}
		if o.Err == nil {
			uploaded = append(uploaded, r)
		}
		out = append(out, o)
		if done != nil {
			done(o)
		}
	}
	if ctx.Err() != nil {
		return out, nil
	}
	return out, u.refreshCampaigns(ctx, st, uploaded, resultsDir)
}

// refreshCampaigns uploads again the reports of the campaigns of runs, so
// that they link the runs' uploaded reports, and writes the campaign
// folder again where it is on this machine (its summary names the uploaded
// report; the runs' reports, written again by the upload, link their
// entries' other attempts again).
func (u *Uploader) refreshCampaigns(ctx context.Context, st store.Store, runs []*store.Result, resultsDir string) error {
	for _, id := range summary.Executions(runs) {
		dir := report.CampaignDir(resultsDir, id)
		sum, results, err := summary.Load(ctx, st, id, report.RunLink(dir))
		if err != nil {
			return fmt.Errorf("campaign %s: %w", id, err)
		}
		if err := u.PublishCampaign(ctx, st, dir, sum, results); err != nil {
			return fmt.Errorf("campaign %s: %w", id, err)
		}
		if fileExists(filepath.Join(dir, report.SummaryJSON)) {
			if err := report.WriteCampaign(dir, sum, results); err != nil {
				return fmt.Errorf("campaign %s: %w", id, err)
			}
		}
	}
	return nil
}
