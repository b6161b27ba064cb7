package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

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
	done, failed := []string{}, []string{}
	err = executor.FinalisePending(ctx, st, o, func(r *store.Result) {
		if v := r.Details.Video; v != nil && v.State == "failed" {
			failed = append(failed, r.ID)
			again := ""
			if _, err := os.Stat(filepath.Join(o.Pending, r.ID)); err == nil {
				again = " (vpt report finalise tries again)"
			}
			fmt.Fprintf(app.IO.Err, "vpt: the video of run %s (%s on %s) could not be finalised; its segments are kept in %s%s: %s\n",
				r.ID[:8], r.ScriptName, r.DeviceID, filepath.Join(r.RunDir, "video"), again, v.Error)
			return
		}
		done = append(done, r.ID)
		if !app.jsonOut {
			fmt.Fprintf(app.IO.Out, "finalised the video of run %s (%s on %s): %s\n", r.ID[:8], r.ScriptName, r.DeviceID, videoOutcome(r))
		}
	})
	if err != nil {
		return err
	}
	left := slices.DeleteFunc(pendingNotes(o.Pending), func(id string) bool { return slices.Contains(failed, id) })
	if app.jsonOut {
		if err := printJSON(app, map[string][]string{"finalised": done, "failed": failed, "left": left}); err != nil {
			return err
		}
	} else if len(done)+len(failed)+len(left) == 0 {
		fmt.Fprintln(app.IO.Out, "no video waits to be finalised")
	} else if len(left) > 0 {
		fmt.Fprintf(app.IO.Out, "%d video(s) left to the vpt process finalising them now\n", len(left))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %d video(s)", errVideoFailed, len(failed))
	}
	return nil
}

// errVideoFailed: ffmpeg could not make a video of the segments a run
// left (an infrastructure error; the segments stay).
var errVideoFailed = errors.New("could not finalise the video")

// videoOutcome says where the finalised video is.
func videoOutcome(r *store.Result) string {
	if v := r.Details.Video; v != nil && v.Path != "" {
		return filepath.Join(r.RunDir, v.Path)
	}
	return "no video"
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
