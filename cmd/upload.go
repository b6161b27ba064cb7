package cmd

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// uploadProgressMin: uploads smaller than this show no bar.
const uploadProgressMin = 20 << 20

// uploadProgress draws a byte progress bar for large uploads.
func uploadProgress(w io.Writer) func(sent, total int64) {
	var mu sync.Mutex
	var bar *progressbar.ProgressBar
	var barTotal int64
	return func(sent, total int64) {
		if total < uploadProgressMin {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if bar == nil || barTotal != total {
			bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("upload"),
				progressbar.OptionShowBytes(true), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish(),
				progressbar.OptionSetWidth(24))
			barTotal = total
		}
		bar.Set64(sent)
		if sent >= total {
			bar.Finish()
		}
	}
}

func newReportUploadCmd(app *App) *cobra.Command {
	var pending bool
	cmd := &cobra.Command{
		Use:   "upload [ID] [--pending]",
		Short: "Upload a run folder to R2/S3, or retry every pending upload",
		Long: `Upload a run's folder (report, video, screenshots, output) to the bucket of the
upload settings and record its URLs; --pending retries every run whose upload
failed. Local files are never deleted.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if pending == (len(args) == 1) {
				return &usageError{msg: "give a run ID or --pending", hint: "vpt report upload ID, or vpt report upload --pending"}
			}
			st, err := app.Store(ctx, cmd)
			if err != nil {
				return err
			}
			up, err := app.Uploader(ctx, cmd)
			if err != nil {
				return err
			}
			var targets []*store.Result
			if pending {
				if targets, err = fullResults(ctx, st, store.ResultFilter{Upload: store.UploadPending}); err != nil {
					return err
				}
			} else {
				r, err := findResult(ctx, st, args[0])
				if err != nil {
					return err
				}
				targets = append(targets, r)
			}
			failed := 0
			var firstErr error
			for _, r := range targets {
				if err := uploadOne(ctx, st, up, r); err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					app.Notice("run %s: %v", r.ID[:8], err)
					continue
				}
				fmt.Fprintf(app.IO.Out, "uploaded %s  %s\n", r.ID[:8], r.HTMLReportR2URL)
			}
			if err := uploadCampaignsOf(ctx, app, cmd, st, up, targets); err != nil {
				app.Notice("campaign reports: %v", err)
			}
			if pending && len(targets) == 0 {
				fmt.Fprintln(app.IO.Out, "no pending uploads")
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d upload(s) failed; they stay pending: %w", failed, len(targets), firstErr)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&pending, "pending", false, "retry every upload that failed")
	return cmd
}

// uploadOne uploads a run and records the outcome in the store.
func uploadOne(ctx context.Context, st store.Store, up *report.Uploader, r *store.Result) error {
	err := up.UploadRun(ctx, r)
	if err != nil {
		r.UploadStatus = store.UploadPending
	}
	if serr := st.UpdateResult(ctx, r); serr != nil && err == nil {
		err = serr
	}
	return err
}

// uploadCampaignsOf refreshes the uploaded reports of the campaigns the runs belong to.
func uploadCampaignsOf(ctx context.Context, app *App, cmd *cobra.Command, st store.Store, up *report.Uploader, runs []*store.Result) error {
	cfg, err := app.Config(cmd)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range runs {
		id := r.Details.CampaignID
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		dir := report.CampaignDir(cfg.ResultsDir, id)
		sum, results, err := report.LoadCampaign(ctx, st, id, dir)
		if err != nil {
			return err
		}
		if err := up.UploadCampaign(ctx, dir, sum, results); err != nil {
			return err
		}
		if err := st.UpdateCampaign(ctx, sum.Campaign); err != nil {
			return err
		}
	}
	return nil
}

// uploadCampaign uploads a finished campaign's report.
func (a *App) uploadCampaign(ctx context.Context, cmd *cobra.Command, out *campaign.Outcome) error {
	up, err := a.Uploader(ctx, cmd)
	if err != nil {
		return err
	}
	st, err := a.Store(ctx, cmd)
	if err != nil {
		return err
	}
	if err := up.UploadCampaign(ctx, out.Dir, out.Summary, out.Results); err != nil {
		return err
	}
	return st.UpdateCampaign(ctx, out.Summary.Campaign)
}

// remoteRemover deletes a run's uploaded copy.
type remoteRemover func(ctx context.Context, r *store.Result) error

func (a *App) remoteRemover(ctx context.Context, cmd *cobra.Command) (remoteRemover, error) {
	up, err := a.Uploader(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return up.DeleteRun, nil
}
