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
	"github.com/vpt-dev/vpt/report/upload"
	"github.com/vpt-dev/vpt/results"
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
failed (and aborts what an interrupted upload left on the server). Local files
are never deleted, and change only once the upload succeeded.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pending == (len(args) == 1) {
				return &usageError{msg: "give a run ID or --pending", hint: "vpt report upload ID, or vpt report upload --pending"}
			}
			return runReportUpload(cmd.Context(), app, args, pending)
		},
	}
	cmd.Flags().BoolVar(&pending, "pending", false, "retry every upload that failed")
	return cmd
}

func runReportUpload(ctx context.Context, app *App, args []string, pending bool) error {
	cfg, st, err := app.ConfigAndStore(ctx)
	if err != nil {
		return err
	}
	up, err := app.Uploader(ctx)
	if err != nil {
		return err
	}
	var targets []*store.Result
	view := uploadView{Uploaded: []uploadRunView{}, Failed: []uploadRunView{}, Skipped: []uploadSkipView{}}
	if pending {
		inUse := func(r *store.Result) bool { return store.OwnerLife(r.Owner, r.HeartbeatAt) == store.Alive }
		var skipped []upload.Skipped
		if targets, skipped, err = upload.Pending(ctx, st, inUse); err != nil {
			return err
		}
		for _, s := range skipped {
			app.Notice("run %s left alone: %s", shortID(s.Result.ID), s.Why)
			view.Skipped = append(view.Skipped, uploadSkipView{ID: s.Result.ID, Why: s.Why})
		}
		if len(targets) == 0 {
			if app.jsonOut {
				return printJSON(app, view)
			}
			if len(skipped) == 0 {
				fmt.Fprintln(app.IO.Out, "no pending uploads")
			}
			return nil
		}
	} else {
		r, err := results.Find(ctx, st, args[0])
		if err != nil {
			return err
		}
		targets = append(targets, r)
	}
	outcomes, campaignErr := up.Republish(ctx, st, targets, cfg.ResultsDir, func(o upload.Outcome) {
		if o.Err != nil {
			app.Notice("run %s: %v", shortID(o.Result.ID), o.Err)
			view.Failed = append(view.Failed, uploadRunView{ID: o.Result.ID, Error: o.Err.Error()})
			return
		}
		view.Uploaded = append(view.Uploaded, uploadRunView{ID: o.Result.ID, ReportURL: o.Result.HTMLReportR2URL, LogsURL: o.Result.LogsR2URL})
		if !app.jsonOut {
			fmt.Fprintf(app.IO.Out, "uploaded %s  %s\n", shortID(o.Result.ID), o.Result.HTMLReportR2URL)
		}
	})
	if campaignErr != nil {
		app.Notice("campaign reports: %v", campaignErr)
	}
	if app.jsonOut {
		if err := printJSON(app, view); err != nil {
			return err
		}
	}
	return uploadOutcome(ctx, outcomes, len(targets))
}

// uploadView is `vpt report upload --json`: the runs uploaded, those
// whose upload failed (they stay pending) and those --pending left alone.
type uploadView struct {
	Uploaded []uploadRunView  `json:"uploaded"`
	Failed   []uploadRunView  `json:"failed"`
	Skipped  []uploadSkipView `json:"skipped"`
}

type uploadRunView struct {
	ID        string `json:"id"`
	ReportURL string `json:"report_url,omitempty"`
	LogsURL   string `json:"logs_url,omitempty"`
	Error     string `json:"error,omitempty"` // secrets masked, as stored
}

type uploadSkipView struct {
	ID  string `json:"id"`
	Why string `json:"why"`
}

// uploadOutcome is the command's error: the first failure, counted with
// the runs an interrupt left untried.
func uploadOutcome(ctx context.Context, outcomes []upload.Outcome, asked int) error {
	failed := asked - len(outcomes)
	var first error
	for _, o := range outcomes {
		if o.Err != nil {
			failed++
			if first == nil {
				first = o.Err
			}
		}
	}
	if first == nil {
		first = ctx.Err()
	}
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d upload(s) failed; they stay pending: %w", failed, asked, first)
}

func shortID(id string) string { return id[:min(len(id), 8)] }

// publishCampaign uploads a finished campaign's report.
func (a *App) publishCampaign(ctx context.Context, out *campaign.Outcome) error {
	up, err := a.Uploader(ctx)
	if err != nil {
		return err
	}
	st, err := a.Store(ctx)
	if err != nil {
		return err
	}
	return up.PublishCampaign(ctx, st, out.Dir, out.Summary, out.Results)
}
