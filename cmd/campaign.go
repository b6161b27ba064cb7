package cmd

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/internal/ui"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/report/notify"
	"github.com/vpt-dev/vpt/store"
)

type campaignOptions struct {
	file           string
	devices        string
	parallel       int
	retries        int
	maxFailures    int
	exitFirst      bool
	failOnFlaky    bool
	dryRun         bool
	lastFailed     bool
	shard          string
	balance        string
	executionID    string
	junit          string
	junitPerDevice bool
	stream         bool
	notify         notifyOptions
	distributed    bool
	// source is the campaign file's text when it comes from the store
	// (vpt campaign attach) rather than from file.
	source []byte
}

func newCampaignCmd(app *App) *cobra.Command {
	var o campaignOptions
	cmd := &cobra.Command{
		Use:   "campaign FILE.yaml",
		Short: "Run a campaign: many scripts on one device or a pool of devices",
		Long: `Run the scripts a campaign file lists, in file order, on one device, or in
parallel on a pool of devices that each take the next script from one shared
queue. Everything is checked before anything runs: a bad file, an unknown
script, device, userinterface or parameter is reported with file, line and
column, and nothing runs (exit 2).

Exit status: 130 when interrupted, else 1 when a script failed (or was flaky,
with --fail-on-flaky), else 4 when a script or the campaign timed out, else 3
when a run hit an infrastructure error, else 0.`,
		Example: `  vpt campaign campaigns/nightly.yaml
  vpt campaign campaigns/nightly.yaml --parallel 4 --retries 1 --junit out/junit.xml
  vpt campaign campaigns/nightly.yaml --shard 2/4 --execution-id "$CI_PIPELINE_ID"
  vpt campaign campaigns/nightly.yaml --last-failed -x`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			executor.WarmSupervisor()
			o.file = args[0]
			if o.exitFirst {
				o.maxFailures = 1
			}
			return runCampaign(cmd.Context(), app, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.devices, "device", "d", "", "the device `pool`: ids separated by commas (default: the file's device, or every device that suits)")
	f.IntVar(&o.parallel, "parallel", 0, "run on `n` devices at once (default: the file's parallel setting)")
	f.IntVar(&o.retries, "retries", -1, "retry a failed script `n` times (default: the file's, else 0)")
	f.IntVar(&o.maxFailures, "max-failures", 0, "stop after `n` failed scripts")
	f.BoolVarP(&o.exitFirst, "exitfirst", "x", false, "stop after the first failed script (--max-failures 1)")
	f.BoolVar(&o.failOnFlaky, "fail-on-flaky", false, "count a script that passed on a retry as failed")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and exit without running anything")
	f.BoolVar(&o.lastFailed, "last-failed", false, "run only what did not pass in this campaign's previous execution (entries known by their label: a reordered file reruns what failed; a new entry runs; what a previous --last-failed left out keeps its verdict)")
	f.StringVar(&o.shard, "shard", "", "run only part `i/n` of the scripts (a CI matrix job)")
	f.StringVar(&o.balance, "balance", "", "split --shard by `history`: the stored durations of the scripts, so that shards finish together")
	f.StringVar(&o.executionID, "execution-id", "", "record under this campaign execution `id` (shards of one run share it)")
	f.StringVar(&o.junit, "junit", "", "write JUnit XML to this `file`")
	f.BoolVar(&o.junitPerDevice, "junit-per-device", false, "one JUnit testsuite per device instead of one per campaign")
	f.BoolVar(&o.stream, "stream", false, "stream the scripts' output, prefixed with device and script")
	f.BoolVar(&o.distributed, "distributed", false, "run on the lab's agents (vpt agent on each host) instead of this machine's devices")
	f.Duration("timeout", 0, "timeout of each script without its own (default 1h, or timeout: in vpt.yaml)")
	f.String("video", "", "record video: on, off or retain-on-failure (default on, or video.mode: in vpt.yaml)")
	f.Bool("upload", false, "upload every run folder and the campaign report to R2/S3")
	f.String("python", "", "Python `interpreter` for .py scripts (default python3, or the project's venv)")
	f.Duration("grace", 0, "time a script gets to stop before SIGKILL (default 10s, or grace: in vpt.yaml)")
	// -1 stands for "not given": the help says what that means.
	f.Lookup("retries").DefValue = "0"
	addNotifyFlags(cmd, &o.notify)
	cmd.AddCommand(newCampaignAttachCmd(app, &o), newCampaignCancelCmd(app))
	return cmd
}

func runCampaign(ctx context.Context, app *App, o campaignOptions) error {
	if o.stream && app.quiet {
		return &usageError{msg: "--stream and -q ask for opposite things", hint: "leave out one of them"}
	}
	if o.executionID != "" {
		if err := campaign.CheckExecutionID(o.executionID); err != nil {
			return &usageError{msg: "--execution-id " + err.Error(), hint: `CI ids fit, for example: --execution-id "$CI_PIPELINE_ID"`}
		}
	}
	if !o.dryRun {
		if err := checkOutputFile("junit", o.junit); err != nil {
			return err
		}
	}
	cfg, reg, err := app.Registry()
	if err != nil {
		return err
	}
	notifier, err := app.notifier(o.notify)
	if err != nil {
		return err
	}
	plan, err := planCampaign(ctx, app, cfg, reg, o)
	if err != nil || plan == nil {
		return err
	}
	runner, st, err := app.batchRunner(ctx, o.stream)
	if err != nil {
		return err
	}
	obs := newProgress(app, plan)
	cr := &campaign.Runner{Exec: runner, Store: st, Observer: obs, Log: app.Log(), ResultsDir: cfg.ResultsDir,
		TeamID: cfg.TeamID, HostName: cfg.HostName, CheckDevice: reg.Check}
	if plan.Placed {
		cr.Exec, cr.CheckDevice, cr.Extra = app.lab, nil, distributedExtra(o)
	}
	out, runErr := cr.Run(ctx, plan, o.executionID)
	obs.finish()
	if out == nil {
		return runErr
	}
	return endCampaign(ctx, app, cfg, o, out, notifier, runErr)
}

// planCampaign loads and checks the campaign file as the options say; a
// nil plan (and no error) when nothing is to run: --dry-run printed it,
// or no entry is left.
func planCampaign(ctx context.Context, app *App, cfg *Config, reg *capture.Registry, o campaignOptions) (*campaign.Plan, error) {
	f, err := loadCampaign(o)
	if err != nil {
		return nil, err
	}
	opts, err := o.planOptions(app)
	if err != nil {
		return nil, err
	}
	env := campaign.Environment{Resolver: app.Resolver(cfg), Devices: reg, UIs: ui.Library{Dir: cfg.UserInterfacesDir}, DefaultTimeout: cfg.Timeout}
	if o.distributed || f.Settings().Distributed {
		if env.Lab, err = app.Lab(ctx); err != nil {
			return nil, err
		}
	}
	prev := ""
	if o.lastFailed {
		st, err := app.Store(ctx)
		if err != nil {
			return nil, err
		}
		if opts.Only, prev, err = campaign.LastFailed(ctx, st, f.CampaignID, summary.Labels(f.ScriptConfigurations)); err != nil {
			return nil, err
		}
		if prev == "" {
			app.Notice("no previous execution of %s: running everything", f.CampaignID)
		}
		opts.RerunOf = prev
	}
	if o.balance != "" {
		if opts, err = balanceOptions(ctx, app, f, env, opts); err != nil {
			return nil, err
		}
	}
	plan, err := campaign.Prepare(f, env, opts)
	if err != nil {
		return nil, err
	}
	if prev != "" {
		app.Notice("rerunning %d script(s) that did not pass in %s", len(plan.Entries), prev)
	}
	for _, n := range plan.Notes {
		app.Notice("%s", n)
	}

	switch {
	case o.dryRun && app.jsonOut:
		return nil, printJSON(app, newPlanView(plan))
	case o.dryRun:
		printPlan(app, plan)
		return nil, nil
	case len(plan.Entries) == 0:
		app.Notice("nothing to run")
		// A CI step that publishes --junit expects the file: a shard with
		// no script, or --last-failed after a green run, has no test.
		if o.junit != "" {
			return nil, report.WriteJUnit(o.junit, report.JUnit{Name: f.DisplayName()})
		}
		return nil, nil
	}
	return plan, nil
}

// planOptions are the command line's options of planning.
func (o campaignOptions) planOptions(app *App) (campaign.Options, error) {
	opts := campaign.Options{Parallel: o.parallel, Retries: o.retries, MaxFailures: o.maxFailures, FailOnFlaky: o.failOnFlaky}
	for _, d := range strings.Split(o.devices, ",") {
		if d = strings.TrimSpace(d); d != "" {
			opts.Devices = append(opts.Devices, d)
		}
	}
	if o.shard != "" {
		i, n, ok := parseShard(o.shard)
		switch {
		case ok && n < 1:
			return opts, &usageError{msg: fmt.Sprintf("--shard %s: n is how many shards there are, at least 1", o.shard), hint: "give i/n with 1 ≤ i ≤ n, such as 2/4"}
		case ok && (i < 1 || i > n):
			return opts, &usageError{msg: fmt.Sprintf("--shard %s: shard %d of %d does not exist", o.shard, i, n),
				hint: fmt.Sprintf("give i/n with 1 ≤ i ≤ n: --shard 1/%d to --shard %d/%d", n, n, n)}
		case !ok:
			return opts, &usageError{msg: fmt.Sprintf("--shard %q: expected i/n, such as 2/4", o.shard)}
		}
		opts.Shard, opts.Shards = i, n
		if o.executionID == "" && n > 1 {
			app.Notice("--shard without --execution-id: this shard's results are recorded apart from the other shards'")
		}
	}
	if o.balance != "" && o.balance != campaign.BalanceHistory {
		return opts, &usageError{msg: fmt.Sprintf("--balance %q: the only balance is history", o.balance)}
	}
	if o.balance != "" && opts.Shards <= 1 {
		return opts, &usageError{msg: "--balance history splits shards: give --shard i/n too"}
	}
	return opts, nil
}

// endCampaign writes JUnit, uploads the campaign report, prints the
// summary, notifies, and returns the campaign's verdict for the exit code.
func endCampaign(ctx context.Context, app *App, cfg *Config, o campaignOptions, out *campaign.Outcome, notifier *notify.Notifier, runErr error) error {
	if o.junit != "" {
		if err := report.WriteJUnit(o.junit, report.JUnitForCampaign(out.Summary, out.Results, o.junitPerDevice)); err != nil {
			return fmt.Errorf("JUnit %s: %w", o.junit, err)
		}
	}
	if cfg.Upload.Enabled && runErr == nil {
		if err := app.publishCampaign(ctx, out); err != nil {
			app.Notice("campaign report upload failed: %v", err)
		}
	}
	if app.jsonOut {
		if err := printJSON(app, out.Summary); err != nil {
			return err
		}
	} else {
		printCampaignSummary(app, out, o.junit)
	}
	if out.Summary.Campaign != nil {
		app.send(ctx, notifier, notify.ForCampaign(out.Summary, out.Results, out.Verdict() == campaign.VerdictPassed, app.links()))
	}
	if runErr != nil {
		return runErr
	}
	v := out.Verdict()
	if v == campaign.VerdictPassed && cfg.Upload.Enabled {
		for _, r := range out.Results {
			if r.UploadStatus == store.UploadPending {
				return fmt.Errorf("%w: the campaign passed but uploads failed; retry with: vpt report upload --pending", errUploadPending)
			}
		}
	}
	return campaignVerdict{v}
}

// parseShard reads i/n; ok when both are numbers (the caller checks their
// range).
func parseShard(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	return i, n, ok && err1 == nil && err2 == nil
}

func printPlan(app *App, plan *campaign.Plan) {
	w := app.IO.Out
	f := plan.File
	s := plan.Settings
	fmt.Fprintf(w, "campaign %s (%s): %d of %d script(s)\n", f.DisplayName(), f.CampaignID, len(plan.Entries), plan.Total)
	mode := "sequential"
	switch {
	case plan.Placed:
		mode = fmt.Sprintf("distributed: the lab's agents, %d entries out at a time", plan.Workers)
	case s.Parallel:
		mode = fmt.Sprintf("parallel on %d device(s)", plan.Workers)
	}
	fmt.Fprintf(w, "devices: %s (%s)\n", strings.Join(plan.Pool, ", "), mode)
	fmt.Fprintf(w, "limit %s, continue on failure %v, retries %d", s.Timeout, s.ContinueOnFailure, s.Retries)
	if s.MaxFailures > 0 {
		fmt.Fprintf(w, ", stop after %d failure(s)", s.MaxFailures)
	}
	if plan.Options.Shards > 1 {
		fmt.Fprintf(w, ", shard %d/%d", plan.Options.Shard, plan.Options.Shards)
	}
	fmt.Fprintln(w)
	tw := newTable(w)
	fmt.Fprintln(tw, "#\tSCRIPT\tDEVICE\tTIMEOUT\tRETRIES\tARGUMENTS")
	for _, e := range plan.Entries {
		dev := e.Device
		if dev == "" {
			dev = "any"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", e.Index+1, e.Script.Name, dev, e.Timeout, e.Retries, strings.Join(e.Args, " "))
	}
	tw.Flush()
}

func printCampaignSummary(app *App, out *campaign.Outcome, junit string) {
	w := app.IO.Out
	color := app.IO.ColorOut()
	c := out.Campaign
	entries := out.Summary.Entries
	notable := entries
	if len(entries) > 50 {
		notable = nil
		for _, e := range entries {
			if e.Status != store.StatusPassed {
				notable = append(notable, e)
			}
		}
		if len(notable) > 0 {
			fmt.Fprintf(w, "%s; the %d that did not simply pass:\n", plural(len(entries), "script"), len(notable))
		}
	}
	if len(notable) > 0 {
		tw := newTable(w)
		fmt.Fprintln(tw, "#\tSCRIPT\tDEVICE\tATTEMPTS\tSTATUS\tDURATION\tWHY")
		for _, e := range notable {
			why := ""
			if n := len(e.Attempts); n > 0 && e.Status != store.StatusPassed {
				why = firstLine(e.Attempts[n-1].Error)
				if len(why) > 70 {
					why = why[:70] + "…"
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Index+1, cmp.Or(e.Label, e.Script), e.Device, e.Ran(),
				paintStatus(color, e.Status), fmtMs(e.DurationMs), why)
		}
		tw.Flush()
	}
	s := c.Stats
	fmt.Fprintf(w, "%s %s: %s, %s in %s\n", paintVerdict(color, c.Status), c.Name, plural(s.Total, "script"), statsText(s),
		fmtMs(c.ExecutionTimeMs))
	if c.Status == campaign.StatusRunning && c.ShardTotal > 1 {
		fmt.Fprintf(w, "  shards done: %v of %d; the execution completes with the last shard\n", c.ShardsDone, c.ShardTotal)
	}
	fmt.Fprintf(w, "  execution %s\n  report  %s\n", c.ExecutionID, relPath(out.Dir+"/"+report.CampaignHTML))
	if junit != "" {
		fmt.Fprintf(w, "  junit   %s\n", junit)
	}
	if c.HTMLReportR2URL != "" {
		fmt.Fprintf(w, "  url     %s\n", c.HTMLReportR2URL)
	}
}

// statsText counts a campaign's entries by final status: "3 passed, 1
// flaky, 1 error".
func statsText(s store.CampaignStats) string {
	parts := []string{fmt.Sprintf("%d passed", s.Passed)}
	for _, x := range []struct {
		n    int
		what string
	}{{s.Flaky, "flaky"}, {s.Failed, "failed"}, {s.Timeout, "timed out"}, {s.Error, noun(s.Error, "error")},
		{s.Interrupted, "interrupted"}, {s.NotRun, "not run"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.what))
		}
	}
	return strings.Join(parts, ", ")
}

// plural counts things: "1 script", "2 scripts".
func plural(n int, thing string) string { return strconv.Itoa(n) + " " + noun(n, thing) }

// noun is thing, or things when n is not 1.
func noun(n int, thing string) string {
	if n == 1 {
		return thing
	}
	return thing + "s"
}

// progress shows a campaign as it runs: a bar with counts and what each
// device runs on a terminal, one plain line per start and finish elsewhere.
type progress struct {
	app     *App
	plan    *campaign.Plan
	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	running map[string]string
	counts  map[store.Status]int
	done    int
	total   int
	// Per entry: attempts that went to another device (their device
	// failed; they use no retry).
	requeues map[int]int
	labels   []string // the entries' test names, by index
}

func newProgress(app *App, plan *campaign.Plan) *progress {
	p := &progress{app: app, plan: plan, running: map[string]string{}, counts: map[store.Status]int{}, total: len(plan.Entries),
		requeues: map[int]int{}, labels: summary.Labels(plan.File.ScriptConfigurations)}
	if app.IO.Interactive() && !app.quiet && !app.jsonOut {
		p.bar = progressbar.NewOptions(p.total,
			progressbar.OptionSetWriter(app.IO.Err),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetDescription("starting"),
		)
	}
	return p
}

func (p *progress) line(format string, args ...any) {
	if p.app.quiet {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if p.bar != nil {
		progressbar.Bprintln(p.bar, msg)
		return
	}
	fmt.Fprintf(p.app.IO.Err, "%s %s\n", time.Now().Format("15:04:05"), msg)
}

func (p *progress) describe() {
	if p.bar == nil {
		return
	}
	devs := make([]string, 0, len(p.running))
	for d := range p.running {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	var now []string
	for _, d := range devs {
		now = append(now, d+": "+p.running[d])
	}
	desc := fmt.Sprintf("%d passed %d failed", p.counts[store.StatusPassed]+p.counts[store.StatusFlaky],
		p.counts[store.StatusFailed]+p.counts[store.StatusTimeout]+p.counts[store.StatusError])
	if len(now) > 0 {
		desc += " · " + strings.Join(now, " · ")
	}
	p.bar.Describe(desc)
}

func (p *progress) Started(plan *campaign.Plan, c *store.Campaign) {
	on := strings.Join(plan.Pool, ", ")
	if n := plan.Workers; n < len(plan.Pool) {
		on += fmt.Sprintf(" (%d at a time)", n)
	}
	p.line("campaign %s: %d script(s) on %s, execution %s", c.Name, len(plan.Entries), on, c.ExecutionID)
}

// label is the entry's test name, as the table and JUnit give it.
func (p *progress) label(e *campaign.PlannedEntry) string {
	if e.Index < len(p.labels) && p.labels[e.Index] != "" {
		return p.labels[e.Index]
	}
	return e.Script.Name
}

func (p *progress) EntryStarted(e *campaign.PlannedEntry, attempt int, device string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[device] = p.label(e)
	p.describe()
	if p.bar == nil {
		retry := ""
		// Attempts its device failed under are not its tries.
		if n := attempt - p.requeues[e.Index]; n > 1 {
			retry = fmt.Sprintf(" (attempt %d)", n)
		}
		p.line("start   %s on %s%s", p.label(e), device, retry)
	}
}

func (p *progress) EntryFinished(e *campaign.PlannedEntry, end campaign.AttemptEnd) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, end.Device)
	status, why, dur := attemptStatus(end)
	if end.Requeued {
		p.requeues[e.Index]++
	}
	if !end.Ran {
		// Ended without running (the campaign stopped before it, no
		// device could run it): counted; only an error gets a line.
		p.done++
		p.counts[end.Status]++
		if p.bar != nil {
			p.bar.Add(1)
		}
		p.describe()
		if end.Status == store.StatusNotRun {
			return
		}
		p.line("%-7s %s: %s [%d/%d]", paintStatus(p.app.IO.ColorOut() && p.bar != nil, end.Status), p.label(e), firstLine(why), p.done, p.total)
		return
	}
	if end.Final {
		status = end.Status
		p.done++
		p.counts[status]++
		if p.bar != nil {
			p.bar.Add(1)
		}
	}
	p.describe()
	color := p.app.IO.ColorOut() && p.bar != nil
	msg := fmt.Sprintf("%-7s %s on %s%s", paintStatus(color, status), p.label(e), end.Device, dur)
	switch {
	case end.Requeued:
		msg += " (its device failed: back to the queue for another device)"
	case !end.Final:
		msg += fmt.Sprintf(" (attempt %d of %d, retrying)", end.Attempt-p.requeues[e.Index], e.Retries+1)
	}
	if why != "" && status != store.StatusPassed && status != store.StatusFlaky {
		msg += ": " + firstLine(why)
	}
	if p.bar == nil {
		msg += fmt.Sprintf(" [%d/%d]", p.done, p.total)
		p.line("%s", msg)
	} else if status != store.StatusPassed {
		p.line("%s", msg)
	}
}

// attemptStatus is how one attempt ended: its status, why and how long it
// took, for the progress line.
func attemptStatus(end campaign.AttemptEnd) (status store.Status, why, dur string) {
	if res := end.Result; res != nil {
		return res.Status, plain(res.ErrorMsg), " in " + fmtMs(res.ExecutionTimeMs)
	}
	if end.Err != nil {
		why = end.Err.Error()
	}
	return campaign.AttemptStatus(nil, end.Err), why, ""
}

func (p *progress) DeviceDown(device, reason string) {
	p.line("device %s is down: %s; it leaves this campaign's pool", device, firstLine(reason))
}

func (p *progress) Waiting(reason string) {
	p.line("waiting: %s", reason)
}

func (p *progress) Stopping(reason string) {
	p.line("stopping: %s; no more scripts start", reason)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// balanceOptions adds the scripts' median durations to the options, for
// --balance history.
func balanceOptions(ctx context.Context, app *App, f *campaign.File, env campaign.Environment, opts campaign.Options) (campaign.Options, error) {
	whole := opts
	whole.Shard, whole.Shards = 0, 0
	all, err := campaign.Prepare(f, env, whole)
	if err != nil {
		return opts, err
	}
	var scripts []string
	for _, e := range all.Entries {
		scripts = append(scripts, e.Script.Name)
	}
	st, err := app.Store(ctx)
	if err != nil {
		return opts, err
	}
	durs, err := st.RecentDurations(ctx, scripts, "", store.DefaultTrendWindow)
	if err != nil {
		return opts, err
	}
	opts.Balance, opts.Durations = campaign.BalanceHistory, map[string]int64{}
	for name, d := range durs {
		opts.Durations[name] = store.MedianMs(d)
	}
	return opts, nil
}
