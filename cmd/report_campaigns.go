package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

type campaignListOptions struct {
	name, status, since string
	limit               int
}

// campaignStatuses are the statuses of a campaign execution.
var campaignStatuses = []string{campaign.StatusRunning, campaign.StatusCompleted, campaign.StatusFailed,
	campaign.StatusTimeout, campaign.StatusCancelled, campaign.StatusAbandoned}

func newReportCampaignsCmd(app *App) *cobra.Command {
	var o campaignListOptions
	cmd := &cobra.Command{
		Use:   "campaigns",
		Short: "List campaign executions, newest first, with their counts",
		Long: `List the campaign executions in the results store, newest first: status,
campaign, counts by final status, duration. Show one with: vpt report show
EXECUTION-ID (a prefix is enough); open its report with vpt report open.`,
		Example: `  vpt report campaigns --status failed --since 7d
  vpt report campaigns --name nightly --limit 5 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReportCampaigns(cmd.Context(), app, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "only campaigns whose name or campaign_id holds this `text`")
	f.StringVar(&o.status, "status", "", "only this `status`: "+strings.Join(campaignStatuses, ", "))
	f.StringVar(&o.since, "since", "", "only executions started within this `age` (24h, 7d) or since a date (2026-11-01)")
	f.IntVar(&o.limit, "limit", 50, "at most `n` executions (0: all)")
	return cmd
}

func runReportCampaigns(ctx context.Context, app *App, o campaignListOptions) error {
	o.status = strings.ToLower(o.status)
	if o.status != "" && !slices.Contains(campaignStatuses, o.status) {
		return &usageError{msg: fmt.Sprintf("--status %q: unknown campaign status", o.status), hint: "use " + strings.Join(campaignStatuses, ", ")}
	}
	since, err := sinceFlag(o.since)
	if err != nil {
		return err
	}
	st, err := app.Store(ctx)
	if err != nil {
		return err
	}
	f := store.CampaignFilter{Name: o.name, Status: o.status, Limit: o.limit}
	if !since.IsZero() {
		f.Limit = 0 // the age is filtered here, after the store's limit
	}
	list, err := st.ListCampaigns(ctx, f)
	if err != nil {
		return err
	}
	out := make([]store.Campaign, 0, len(list))
	for _, c := range list {
		if !since.IsZero() && c.StartedAt.Before(since) {
			continue
		}
		if o.limit > 0 && len(out) == o.limit {
			break
		}
		out = append(out, c)
	}
	if app.jsonOut {
		return printJSON(app, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(app.IO.Out, "no campaigns")
		return nil
	}
	color := app.IO.ColorOut()
	tw := newTable(app.IO.Out)
	fmt.Fprintln(tw, "EXECUTION\tSTARTED\tSTATUS\tCAMPAIGN\tSCRIPTS\tRESULT\tDURATION")
	for _, c := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.ExecutionID, c.StartedAt.Local().Format("2006-01-02 15:04:05"),
			paint(color, statusColors[c.Status], c.Status), c.Name, c.Stats.Total, statsText(c.Stats), fmtMs(c.ExecutionTimeMs))
	}
	return tw.Flush()
}

// findCampaign finds a campaign execution by id, execution id or a prefix
// of either, with its summary; ok is false when none answers to id.
func findCampaign(ctx context.Context, app *App, st store.Store, id string) (summary.Summary, bool, error) {
	cfg, err := app.Config()
	if err != nil {
		return summary.Summary{}, false, err
	}
	c, _, err := st.GetCampaign(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return summary.Summary{}, false, nil
	}
	if err != nil {
		return summary.Summary{}, false, err
	}
	dir := cmp.Or(c.ReportDir, report.CampaignDir(cfg.ResultsDir, c.ExecutionID))
	sum, _, err := summary.Load(ctx, st, c.ID, report.RunLink(dir))
	if err != nil {
		return sum, false, err
	}
	sum.Campaign.ReportDir = dir
	return sum, true, nil
}

// printCampaign shows one campaign execution: its fields, every entry, its
// files.
func printCampaign(app *App, w io.Writer, sum summary.Summary) {
	color := app.IO.ColorOut()
	c := sum.Campaign
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-14s %s\n", k, v)
		}
	}
	line("execution", c.ExecutionID)
	line("campaign", c.Name+"  ("+c.CampaignID+")")
	line("status", paint(color, statusColors[c.Status], c.Status))
	line("error", c.ErrorMessage)
	line("started", c.StartedAt.Local().Format(time.RFC3339))
	if c.CompletedAt != nil {
		line("completed", c.CompletedAt.Local().Format(time.RFC3339))
	}
	line("duration", fmtMs(c.ExecutionTimeMs))
	line("host", c.HostName)
	line("scripts", plural(c.Stats.Total, "script")+": "+statsText(c.Stats))
	if c.ShardTotal > 1 {
		line("shards", fmt.Sprintf("%v done of %d", c.ShardsDone, c.ShardTotal))
	}
	line("report", filepath.Join(c.ReportDir, report.CampaignHTML))
	line("junit", filepath.Join(c.ReportDir, report.JUnitXML))
	line("report url", c.HTMLReportR2URL)
	fmt.Fprintln(w)
	tw := newTable(w)
	fmt.Fprintln(tw, "#\tTEST\tDEVICE\tATTEMPTS\tSTATUS\tDURATION\tWHY")
	for _, e := range sum.Entries {
		why := ""
		if n := len(e.Attempts); n > 0 && e.Status != store.StatusPassed {
			why = firstLine(e.Attempts[n-1].Error)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Index+1, cmp.Or(e.Label, e.Script), e.Device, e.Ran(),
			paintStatus(color, e.Status), fmtMs(e.DurationMs), why)
	}
	tw.Flush()
}

// findTarget finds what `report show` and `report open` name: a run (by
// id, prefix or "latest"), else a campaign execution (by id, execution id
// or prefix). Exactly one of the run and the campaign is set.
func findTarget(ctx context.Context, app *App, id string) (store.Store, *store.Result, *summary.Summary, error) {
	st, res, err := app.result(ctx, id)
	if err == nil && res.ID != id && id != "latest" {
		// A prefix of a run's id: it must not name a campaign too.
		if c, _, cerr := st.GetCampaign(ctx, id); cerr == nil && (c.ID == id || c.ExecutionID == id) {
			err = store.ErrNotFound // the campaign's whole name
		} else if cerr == nil || errors.Is(cerr, store.ErrAmbiguous) {
			return nil, nil, nil, &usageError{msg: fmt.Sprintf("%q is the prefix of a run's id and of a campaign execution's", id),
				hint: "give more of it: vpt report list, vpt report campaigns"}
		}
	}
	if err == nil || id == "" || id == "latest" || !errors.Is(err, store.ErrNotFound) {
		return st, res, nil, err
	}
	sum, ok, cerr := findCampaign(ctx, app, st, id)
	switch {
	case errors.Is(cerr, store.ErrAmbiguous):
		return nil, nil, nil, &usageError{msg: fmt.Sprintf("%q is the prefix of several campaign executions", id), hint: "give more of it: vpt report campaigns"}
	case cerr != nil:
		return nil, nil, nil, cerr
	case !ok:
		return nil, nil, nil, &usageError{msg: fmt.Sprintf("no result or campaign %q", id),
			hint: "list them with: vpt report list, vpt report campaigns"}
	}
	return st, nil, &sum, nil
}
