package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/store"
)

func newReportFinaliseCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "finalise",
		Short: "Finalise now the videos that runs of dead vpt processes left as segments",
		Long: `A run whose vpt process died while recording leaves its video as segments; the
next run or campaign finalises it in its background, and a command that ends
first leaves it to the one after. This finalises every such video now, waiting
for ffmpeg, and records each in its run's row, result.json and report. A video
another vpt process is finalising at the moment is left to it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFinalise(cmd.Context(), app)
		},
	}
}

func runFinalise(ctx context.Context, app *App) error {
	cfg, st, err := app.ConfigAndStore(ctx)
	if err != nil {
		return err
	}
	o := recoverOptions(cfg, true)
	done := []string{}
	err = executor.FinalisePending(ctx, st, o, func(r *store.Result) {
		done = append(done, r.ID)
		if !app.jsonOut {
			fmt.Fprintf(app.IO.Out, "finalised the video of run %s (%s on %s): %s\n", r.ID[:8], r.ScriptName, r.DeviceID, videoOutcome(r))
		}
	})
	if err != nil {
		return err
	}
	left := pendingNotes(o.Pending)
	if app.jsonOut {
		return printJSON(app, map[string][]string{"finalised": done, "left": left})
	}
	switch {
	case len(done) == 0 && len(left) == 0:
		fmt.Fprintln(app.IO.Out, "no video waits to be finalised")
	case len(left) > 0:
		fmt.Fprintf(app.IO.Out, "%d video(s) left to the vpt process finalising them now\n", len(left))
	}
	return nil
}

// videoOutcome says where the finalised video is, or why there is none.
func videoOutcome(r *store.Result) string {
	v := r.Details.Video
	switch {
	case v == nil:
		return "no video"
	case v.Error != "":
		return v.State + ": " + v.Error
	default:
		return filepath.Join(r.RunDir, v.Path)
	}
}

// pendingNotes are the runs whose video still waits.
func pendingNotes(dir string) []string {
	entries, _ := os.ReadDir(dir)
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
