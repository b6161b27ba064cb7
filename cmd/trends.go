package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/report/serve"
	"github.com/vpt-dev/vpt/store"
)

type trendsOptions struct {
	window int
	since  string
}

// trendRow is one script of `vpt report trends --json`.
type trendRow struct {
	Script    string             `json:"script"`
	Runs      int                `json:"runs"`
	Passed    int                `json:"passed"`
	PassRate  float64            `json:"pass_rate"`
	MedianMs  int64              `json:"median_ms"`
	Flips     int                `json:"flips"`
	Flakiness float64            `json:"flakiness"`
	History   []store.TrendPoint `json:"history"`
}

func newReportTrendsCmd(app *App) *cobra.Command {
	var o trendsOptions
	cmd := &cobra.Command{
		Use:   "trends",
		Short: "Pass rate and duration per script over its last runs, and the flakiest scripts",
		Long: `Print, for every script, the figures of the trends page of vpt report serve:
over its last --window finished runs, how many passed, its median duration,
and how often it flipped between passing and failing (flakiness: flips over
the changes it could have made). The flakiest scripts come first.`,
		Example: `  vpt report trends
  vpt report trends --window 50 --since 30d --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrends(cmd.Context(), app, o)
		},
	}
	cmd.Flags().IntVar(&o.window, "window", store.DefaultTrendWindow, "count each script's last `n` finished runs")
	cmd.Flags().StringVar(&o.since, "since", "", "only runs started within this `age` (30d) or since a date")
	return cmd
}

func runTrends(ctx context.Context, app *App, o trendsOptions) error {
	if o.window <= 0 {
		return &usageError{msg: fmt.Sprintf("--window %d: count at least 1 run", o.window)}
	}
	since, err := sinceFlag(o.since)
	if err != nil {
		return err
	}
	st, err := app.Store(ctx)
	if err != nil {
		return err
	}
	trends, flaky, err := serve.Trends(ctx, st, o.window, since)
	if err != nil {
		return err
	}
	row := func(t store.ScriptTrend) trendRow {
		return trendRow{Script: t.Script, Runs: len(t.Runs), Passed: t.Passed(), PassRate: t.PassRate(), MedianMs: t.MedianMs(),
			Flips: t.Flips(), Flakiness: t.Flakiness(), History: t.Runs}
	}
	if app.jsonOut {
		out := struct {
			Window   int        `json:"window"`
			Scripts  []trendRow `json:"scripts"`
			Flakiest []string   `json:"flakiest"`
		}{Window: o.window, Scripts: []trendRow{}, Flakiest: []string{}}
		for _, t := range trends {
			out.Scripts = append(out.Scripts, row(t))
		}
		for _, t := range flaky {
			out.Flakiest = append(out.Flakiest, t.Script)
		}
		return printJSON(app, out)
	}
	if len(trends) == 0 {
		fmt.Fprintln(app.IO.Out, "no finished runs")
		return nil
	}
	w := newTable(app.IO.Out)
	if len(flaky) > 0 {
		fmt.Fprintln(w, "FLAKIEST\tFLIPS\tFLAKINESS\tPASS RATE")
		for _, t := range flaky {
			fmt.Fprintf(w, "%s\t%d\t%.0f%%\t%.0f%%\n", t.Script, t.Flips(), 100*t.Flakiness(), 100*t.PassRate())
		}
		fmt.Fprintln(w, "\t\t\t")
	}
	fmt.Fprintln(w, "SCRIPT\tRUNS\tPASS RATE\tMEDIAN\tFLIPS\tLAST")
	for _, t := range trends {
		fmt.Fprintf(w, "%s\t%d\t%.0f%%\t%s\t%d\t%s\n", t.Script, len(t.Runs), 100*t.PassRate(), fmtMs(t.MedianMs()), t.Flips(),
			sparkline(t))
	}
	return w.Flush()
}

// sparkline is a script's last results, oldest first: + passed, x not.
func sparkline(t store.ScriptTrend) string {
	b := make([]byte, 0, len(t.Runs))
	for i := len(t.Runs) - 1; i >= 0; i-- {
		if t.Runs[i].Status == store.StatusPassed {
			b = append(b, '+')
		} else {
			b = append(b, 'x')
		}
	}
	return string(b)
}
