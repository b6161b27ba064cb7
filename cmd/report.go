package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/results"
	"github.com/vpt-dev/vpt/store"
)

func newReportCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Browse, open, regenerate, upload and prune stored results",
		Long: `Work with the results store and the run folders: list results and campaign
executions, show one, open its HTML report, rebuild reports after an upgrade,
upload them, prune old ones. IDs may be shortened to any unique prefix;
"latest" is the newest run; show and open take a campaign execution id too.`,
		// Results read here are current: the rows of vpt processes that died
		// are finished first (their video is left to the next run).
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return app.Recover(cmd.Context(), false)
		},
	}
	cmd.AddCommand(newReportListCmd(app), newReportCampaignsCmd(app), newReportShowCmd(app), newReportOpenCmd(app),
		newReportRegenerateCmd(app), newReportPruneCmd(app), newReportUploadCmd(app),
		newReportServeCmd(app), newReportTrendsCmd(app), newReportFinaliseCmd(app))
	return cmd
}

type listOptions struct {
	script, status, device, host, campaign, since string
	limit                                         int
}

func newReportListCmd(app *App) *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List results, newest first, with each script's recent pass rate",
		Example: `  vpt report list --status failed --since 24h
  vpt report list --script goto --limit 20 --json
  vpt report list --host rack-2 --device device1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReportList(cmd.Context(), app, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.script, "script", "", "only this `script` (its name, goto, or its file, goto.py)")
	f.StringVar(&o.status, "status", "", "only these `statuses` (comma list, any case: passed,failed,error,timeout,interrupted,abandoned,running)")
	f.StringVar(&o.device, "device", "", "only this device `id` or name")
	f.StringVar(&o.host, "host", "", "only runs of this `host` (host_name; every host of a lab has a device1)")
	f.StringVar(&o.campaign, "campaign", "", "only runs of this campaign execution `id`")
	f.StringVar(&o.since, "since", "", "only runs started within this `age` (24h, 7d) or since a date (2026-11-01)")
	f.IntVar(&o.limit, "limit", 50, "at most `n` results (0: all)")
	return cmd
}

// reportRow is one line of `vpt report list --json`.
type reportRow struct {
	store.Result
	PassRate float64 `json:"script_pass_rate"`
	Flaky    bool    `json:"script_flaky"`
}

func runReportList(ctx context.Context, app *App, o listOptions) error {
	cfg, st, err := app.ConfigAndStore(ctx)
	if err != nil {
		return err
	}
	f := store.ResultFilter{Script: scriptName(cfg.ScriptsDir, o.script), Device: o.device, Host: o.host, Campaign: o.campaign, Limit: o.limit}
	if o.status != "" {
		for _, s := range strings.Split(o.status, ",") {
			s = strings.ToLower(strings.TrimSpace(s))
			if !validStatus(s) {
				return &usageError{msg: fmt.Sprintf("--status %q: unknown status", s),
					hint: "use passed, failed, error, timeout, interrupted, abandoned or running"}
			}
			f.Statuses = append(f.Statuses, store.Status(s))
		}
	}
	if f.Since, err = sinceFlag(o.since); err != nil {
		return err
	}
	rows, err := st.ListResults(ctx, f)
	if err != nil {
		return err
	}
	var scripts []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.ScriptName] {
			seen[r.ScriptName] = true
			scripts = append(scripts, r.ScriptName)
		}
	}
	stats, err := st.ScriptStats(ctx, scripts, 20)
	if err != nil {
		return err
	}
	if app.jsonOut {
		out := make([]reportRow, 0, len(rows))
		for _, r := range rows {
			s := stats[r.ScriptName]
			out = append(out, reportRow{Result: r, PassRate: s.PassRate(), Flaky: s.Flaky()})
		}
		return printJSON(app, out)
	}
	if len(rows) == 0 {
		fmt.Fprintln(app.IO.Out, "no results")
		return nil
	}
	color := app.IO.ColorOut()
	tw := newTable(app.IO.Out)
	fmt.Fprintln(tw, "ID\tSTARTED\tSTATUS\tSCRIPT\tHOST\tDEVICE\tDURATION\tPASS RATE")
	now := time.Now()
	for _, r := range rows {
		s := stats[r.ScriptName]
		dur := fmtMs(r.ExecutionTimeMs)
		if r.Status == store.StatusRunning {
			// A running row records no duration yet: how long it has run.
			dur = fmtMs(now.Sub(r.StartedAt).Milliseconds()) + " so far"
		}
		rate := "-"
		if s.Runs > 0 {
			rate = fmt.Sprintf("%3.0f%% of %d", s.PassRate()*100, s.Runs)
		}
		if s.Flaky() {
			rate += " flaky"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID[:8], r.StartedAt.Local().Format("2006-01-02 15:04:05"),
			paintStatus(color, r.Status), r.ScriptName, r.HostName, r.DeviceID, dur, rate)
	}
	return tw.Flush()
}

// scriptName is how results name the script s names: its name (goto,
// gw/smartping), or its file (goto.py, or a path inside the scripts folder).
func scriptName(scriptsDir, s string) string {
	if s == "" {
		return ""
	}
	name := strings.TrimSuffix(s, ".py")
	if abs, err := filepath.Abs(name); err == nil {
		if dir, err := filepath.Abs(scriptsDir); err == nil {
			if rel, err := filepath.Rel(dir, abs); err == nil && !strings.HasPrefix(rel, "..") && fileExists(abs+".py") {
				return filepath.ToSlash(rel)
			}
		}
	}
	return filepath.ToSlash(name)
}

func validStatus(s string) bool {
	switch store.Status(s) {
	case store.StatusPassed, store.StatusFailed, store.StatusError, store.StatusTimeout, store.StatusInterrupted,
		store.StatusAbandoned, store.StatusRunning:
		return true
	}
	return false
}

// sinceFlag reads a --since value: the zero time when none is given.
func sinceFlag(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return parseSince(s, time.Now())
}

// parseSince reads an age (90m, 24h, 7d, 2w) or a date (2026-11-01,
// 2026-11-01T10:00:00Z).
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := parseAge(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &usageError{msg: fmt.Sprintf("%q is neither an age nor a date", s), hint: "for example 24h, 7d, 2w or 2026-11-01"}
}

// parseAge reads a duration with day (d) and week (w) units too.
func parseAge(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("bad age %q", s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad age %q", s)
	}
	return d, nil
}

// result opens the store and finds a result by id, prefix or "latest".
func (a *App) result(ctx context.Context, id string) (store.Store, *store.Result, error) {
	st, err := a.Store(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := results.Find(ctx, st, id)
	return st, res, err
}

func newReportShowCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "show [ID]",
		Short: "Show one result (every field, its files and URLs, the last results of its script) or one campaign execution",
		Long: `Show one result: every field, its files and URLs, the last results of its
script. ID is a run's id or a prefix of it, or "latest"; a campaign execution's
id (or a prefix) shows the campaign: its counts, files and every entry.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, res, camp, err := findTarget(ctx, app, firstArg(args))
			if err != nil {
				return err
			}
			if camp != nil {
				if app.jsonOut {
					return printJSON(app, camp)
				}
				printCampaign(app, app.IO.Out, *camp)
				return nil
			}
			history, err := st.ListResults(ctx, store.ResultFilter{Script: res.ScriptName, Limit: 10})
			if err != nil {
				return err
			}
			if app.jsonOut {
				return printJSON(app, map[string]any{"result": report.NewRunFile(res), "history": history})
			}
			printResult(app, app.IO.Out, res, history)
			return nil
		},
	}
}

func printResult(app *App, w io.Writer, r *store.Result, history []store.Result) {
	color := app.IO.ColorOut()
	// What the script gave is printed plain: it cannot forge a line.
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-14s %s\n", plain(k), plain(v))
		}
	}
	line("id", r.ID)
	line("script", r.ScriptName+"  ("+r.ScriptPath+")")
	fmt.Fprintf(w, "%-14s %s\n", "status", paintStatus(color, r.Status))
	line("error", r.ErrorMsg)
	line("started", r.StartedAt.Local().Format(time.RFC3339))
	if r.CompletedAt != nil {
		line("completed", r.CompletedAt.Local().Format(time.RFC3339))
	}
	line("duration", fmtMs(r.ExecutionTimeMs))
	line("device", fmt.Sprintf("%s (%s, %s)", r.DeviceID, r.DeviceName, r.DeviceModel))
	line("host", r.HostName)
	line("userinterface", r.UserInterface)
	line("team", r.TeamID)
	if r.ExitCode != nil {
		line("exit code", strconv.Itoa(*r.ExitCode))
	}
	line("verdict from", r.Details.VerdictSource)
	line("arguments", strings.Join(r.Parameters, " "))
	line("summary", r.Details.Summary)
	line("campaign", r.Details.CampaignID)
	line("steps", fmt.Sprintf("%d (%d failed)", len(r.Details.Steps), countFailed(r.Details.Steps)))
	line("screenshots", strconv.Itoa(len(r.Details.Screenshots)))
	line("output", fmt.Sprintf("%d lines, %d bytes", r.Details.OutputLines, r.Details.OutputBytes))
	line("run folder", r.RunDir)
	if r.RunDir != "" {
		line("report", filepath.Join(r.RunDir, report.ReportHTML))
		line("log", filepath.Join(r.RunDir, report.OutputLog))
	}
	if v := r.Details.Video; v != nil {
		if v.Path != "" {
			line("video", fmt.Sprintf("%s (%s)", filepath.Join(r.RunDir, v.Path), fmtMs(v.DurationMs)))
		} else {
			line("video", v.State+" "+v.Error)
		}
	}
	line("report url", r.HTMLReportR2URL)
	line("logs url", r.LogsR2URL)
	line("upload", r.UploadStatus)
	line("upload error", r.Details.UploadError)
	for k, v := range r.Metadata {
		line("meta "+k, fmt.Sprint(v))
	}
	if len(history) > 1 {
		fmt.Fprintf(w, "\nlast results of %s:\n", r.ScriptName)
		for _, h := range history {
			mark := " "
			if h.ID == r.ID {
				mark = ">"
			}
			fmt.Fprintf(w, "%s %s  %s  %-11s %s  %s\n", mark, h.ID[:8], h.StartedAt.Local().Format("2006-01-02 15:04"),
				paintStatus(color, h.Status), h.DeviceID, fmtMs(h.ExecutionTimeMs))
		}
	}
}

func countFailed(steps []store.Step) int {
	n := 0
	for _, s := range steps {
		if s.Status == store.StatusFailed {
			n++
		}
	}
	return n
}

// firstArg is the ID argument of report show and open: "latest" when
// none is given.
func firstArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return "latest"
}

func newReportOpenCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "open [ID]",
		Short: "Open a run's or a campaign's report in the desktop browser (or print its path)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, res, camp, err := findTarget(cmd.Context(), app, firstArg(args))
			if err != nil {
				return err
			}
			target, err := reportTarget(res, camp)
			if err != nil {
				return err
			}
			if app.jsonOut {
				// Where the report is; a program reading it opens it itself.
				return printJSON(app, newOpenView(res, camp, target))
			}
			if opener := desktopOpener(); opener != "" {
				if err := exec.Command(opener, target).Start(); err == nil {
					fmt.Fprintln(app.IO.Err, "opened", target)
					return nil
				}
			}
			fmt.Fprintln(app.IO.Out, target)
			return nil
		},
	}
}

// reportTarget is the report of a run or a campaign: its file when here,
// else its uploaded URL.
func reportTarget(res *store.Result, camp *summary.Summary) (string, error) {
	if camp != nil {
		c := camp.Campaign
		target := filepath.Join(c.ReportDir, report.CampaignHTML)
		if _, err := os.Stat(target); err == nil {
			return target, nil
		}
		if c.HTMLReportR2URL == "" {
			return "", &usageError{msg: fmt.Sprintf("campaign %s has no report at %s", c.ExecutionID, target),
				hint: "rebuild it with: vpt report regenerate --all"}
		}
		return c.HTMLReportR2URL, nil
	}
	target := filepath.Join(res.RunDir, report.ReportHTML)
	if _, err := os.Stat(target); err == nil {
		return target, nil
	}
	if res.HTMLReportR2URL == "" {
		return "", &usageError{msg: fmt.Sprintf("run %s has no report at %s", res.ID[:8], target),
			hint: "rebuild it with: vpt report regenerate " + res.ID[:8]}
	}
	return res.HTMLReportR2URL, nil
}

// openView is `vpt report open --json`: where a report is.
type openView struct {
	Kind string `json:"kind"` // run or campaign
	ID   string `json:"id"`   // the run's id, or the campaign's execution id
	// Path is the report's file on this machine; URL its uploaded copy
	// (the one of the two it opens: the file when it is here).
	Path string `json:"path,omitempty"`
	URL  string `json:"url,omitempty"`
}

func newOpenView(res *store.Result, camp *summary.Summary, target string) openView {
	v := openView{Kind: "run"}
	if camp != nil {
		v.Kind, v.ID = "campaign", camp.Campaign.ExecutionID
	} else {
		v.ID = res.ID
	}
	if strings.Contains(target, "://") {
		v.URL = target
	} else {
		v.Path = target
	}
	return v
}

// desktopOpener is the program that opens files in the user's browser,
// when there is a desktop session.
func desktopOpener() string {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ""
	}
	for _, p := range []string{"xdg-open", "open"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

func newReportRegenerateCmd(app *App) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "regenerate [ID] [--all]",
		Short: "Rebuild report.html and result.json from stored data",
		Long: `Rebuild the HTML report (and result.json) of a run, or of every run whose folder
is on this machine, from the results store and the run folder: after an upgrade
of vpt, old reports get the new template.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRegenerate(cmd.Context(), app, args, all)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "every run whose folder is on this machine")
	return cmd
}

func newReportPruneCmd(app *App) *cobra.Command {
	var olderThan string
	var keepFailed, dryRun, remote bool
	cmd := &cobra.Command{
		Use:   "prune --older-than AGE",
		Short: "Delete old results: their run folders and rows (never a running run), and campaigns left with none",
		Long: `Delete the results that started before --older-than: the row, the run folder,
with --remote the uploaded copy. No reference is left pointing at nothing: a
campaign execution whose runs are all gone is deleted (row and folder), one
that keeps some has its report written again with the pruned runs marked, and
the results folder's latest link moves to the newest run left.`,
		Example: `  vpt report prune --older-than 30d --keep-failed --dry-run
  vpt report prune --older-than 90d --remote`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if olderThan == "" {
				return &usageError{msg: "prune needs --older-than", hint: "for example --older-than 30d"}
			}
			age, err := parseAge(olderThan)
			if err != nil {
				return &usageError{msg: "--older-than: " + err.Error(), hint: "for example 30d, 12h, 2w"}
			}
			o := results.PruneOptions{Before: time.Now().Add(-age), KeepFailed: keepFailed, DryRun: dryRun}
			return runPrune(cmd.Context(), app, o, remote)
		},
	}
	f := cmd.Flags()
	f.StringVar(&olderThan, "older-than", "", "delete results that started more than this `age` ago (30d, 12h)")
	f.BoolVar(&keepFailed, "keep-failed", false, "keep results that did not pass")
	f.BoolVar(&dryRun, "dry-run", false, "say what would be deleted, delete nothing")
	f.BoolVar(&remote, "remote", false, "also delete the uploaded copies in R2/S3")
	return cmd
}

func runPrune(ctx context.Context, app *App, o results.PruneOptions, remote bool) error {
	cfg, st, err := app.ConfigAndStore(ctx)
	if err != nil {
		return err
	}
	if remote && !o.DryRun {
		up, err := app.Uploader(ctx)
		if err != nil {
			return err
		}
		o.Remote, o.RemoteCampaigns = up.DeleteRun, up
	}
	o.ResultsDir = cfg.ResultsDir
	o.Warn = app.Notice
	rep, err := results.Prune(ctx, st, o)
	if err != nil {
		return err
	}
	if app.jsonOut {
		return printJSON(app, rep)
	}
	printPrune(app.IO.Out, rep, o.Before)
	return nil
}

// printPrune says what a prune did, or with --dry-run would do.
func printPrune(w io.Writer, rep results.PruneReport, before time.Time) {
	verb, update := "deleted", "updated"
	if rep.DryRun {
		verb, update = "would delete", "would update"
		for _, r := range rep.Results {
			fmt.Fprintf(w, "would delete %s  %s  %s  %s\n", r.ID[:8], r.StartedAt.Local().Format("2006-01-02"), r.Script, r.Status)
		}
		for _, id := range rep.CampaignsDeleted {
			fmt.Fprintf(w, "would delete campaign %s (none of its runs is left)\n", id)
		}
	}
	fmt.Fprintf(w, "%s %d result(s), %.1f MB; kept %d as old (running, or not passed with --keep-failed)\n",
		verb, rep.Deleted, float64(rep.Bytes)/(1<<20), rep.Kept)
	fmt.Fprintf(w, "%s %d campaign(s) whose runs are all gone; %s %d campaign report(s) that listed deleted runs\n",
		verb, len(rep.CampaignsDeleted), update, len(rep.CampaignsUpdated))
	switch {
	case rep.LatestRepaired && rep.DryRun:
		fmt.Fprintln(w, "would move latest off a deleted run")
	case rep.LatestRepaired:
		fmt.Fprintln(w, "moved latest off a deleted run")
	}
	if rep.DryRun {
		fmt.Fprintf(w, "would delete the events older than %s\n", before.Local().Format("2006-01-02 15:04"))
		return
	}
	fmt.Fprintf(w, "deleted %d event(s)\n", rep.Events)
}

func runRegenerate(ctx context.Context, app *App, args []string, all bool) error {
	cfg, st, err := app.ConfigAndStore(ctx)
	if err != nil {
		return err
	}
	var targets []*store.Result
	switch {
	case all && len(args) > 0:
		return &usageError{msg: "give an ID or --all, not both"}
	case all:
		if targets, err = results.Full(ctx, st, store.ResultFilter{}); err != nil {
			return err
		}
	case len(args) == 0:
		return &usageError{msg: "which run?", hint: "vpt report regenerate ID, or --all"}
	default:
		res, err := results.Find(ctx, st, args[0])
		if err != nil {
			return err
		}
		targets = append(targets, res)
	}
	rep, err := results.Regenerate(ctx, st, cfg.ResultsDir, targets, !all)
	if err != nil {
		return err
	}
	for _, r := range rep.Kept {
		app.Notice("run %s (%s on %s): its output.log is missing; its report, which shows the output, is kept as it is",
			r.ID[:8], r.ScriptName, r.DeviceID)
	}
	if app.jsonOut {
		return printJSON(app, map[string]int{"regenerated": rep.Done, "skipped": rep.Skipped, "kept": len(rep.Kept)})
	}
	fmt.Fprintf(app.IO.Out, "regenerated %d report(s)", rep.Done)
	if rep.Skipped > 0 {
		fmt.Fprintf(app.IO.Out, "; %d run folder(s) not on this machine", rep.Skipped)
	}
	fmt.Fprintln(app.IO.Out)
	return nil
}
