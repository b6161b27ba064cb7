package campaign

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// Campaign statuses.
const (
	StatusRunning   = "running"
	StatusCompleted = "completed" // every entry passed (flaky included)
	StatusFailed    = "failed"
	StatusTimeout   = "timeout"
	StatusCancelled = "cancelled"
)

// Observer hears what a campaign does, for progress displays.
type Observer interface {
	Started(p *Plan, c *store.Campaign)
	EntryStarted(e *PlannedEntry, attempt int, device string)
	EntryFinished(e *PlannedEntry, attempt int, device string, res *store.Result, err error)
	Stopping(reason string)
}

// Runner runs campaigns with an executor.
type Runner struct {
	Exec     *executor.Runner
	Store    store.Store
	Observer Observer
	Log      *slog.Logger
	// ResultsDir holds campaigns/<execution id>/.
	ResultsDir string
	TeamID     string
	HostName   string
	// Stop closes on Ctrl-C: no new script starts.
	Stop <-chan struct{}
}

// Outcome is what a campaign execution did.
type Outcome struct {
	Campaign *store.Campaign
	Summary  report.CampaignSummary
	Results  map[string]*store.Result
	// Entries of this shard, with their attempts, in file order.
	Entries []EntryOutcome
	Dir     string // the campaign folder
	// TimedOut: the campaign ran past timeout_minutes; Interrupted: Ctrl-C.
	TimedOut, Interrupted bool
}

// EntryOutcome is one entry's attempts.
type EntryOutcome struct {
	Entry    *PlannedEntry
	Attempts []store.CampaignEntry
	Status   store.Status
	Last     *store.Result
}

// NewExecutionID returns upstream's execution id: campaign_exec_<epoch>_<8 hex>.
func NewExecutionID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("campaign_exec_%d_%s", now.Unix(), hex.EncodeToString(b[:]))
}

// Run executes a plan under an execution id (a new one, or the one the
// shards of a CI matrix share). The campaign row is finalised on every
// exit path.
func (r *Runner) Run(ctx context.Context, plan *Plan, executionID string) (*Outcome, error) {
	f := plan.File
	start := time.Now()
	if executionID == "" {
		executionID = NewExecutionID(start)
	}
	shard, shards := plan.Options.Shard, plan.Options.Shards
	if shards <= 1 {
		shard, shards = 1, 1
	}
	c := &store.Campaign{
		ID: store.NewID(), ExecutionID: executionID, TeamID: r.TeamID, Name: f.DisplayName(), Description: f.Description,
		CampaignID: f.CampaignID, UserInterface: f.UserInterfaceName, HostName: r.HostName, DeviceName: deviceName(f.Device),
		Status: StatusRunning, StartedAt: start.UTC(), ScriptConfigurations: f.ScriptConfigurations,
		ExecutionConfig: map[string]any{"continue_on_failure": plan.Settings.ContinueOnFailure,
			"timeout_minutes": plan.Settings.Timeout.Minutes(), "parallel": plan.Settings.Parallel,
			"retries": plan.Settings.Retries, "max_failures": plan.Settings.MaxFailures, "pool": plan.Pool},
		ShardTotal: shards, Stats: store.CampaignStats{Total: plan.Total},
	}
	joined, err := r.Store.CreateCampaign(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	if joined && c.ShardTotal != shards {
		return nil, fmt.Errorf("%w: execution %s was started with %d shards, not %d", ErrInvalid, executionID, c.ShardTotal, shards)
	}
	out := &Outcome{Campaign: c, Dir: report.CampaignDir(r.ResultsDir, executionID), Results: map[string]*store.Result{}}
	if r.Observer != nil {
		r.Observer.Started(plan, c)
	}

	deadline := start.Add(plan.Settings.Timeout)
	q := &queue{entries: make([]*PlannedEntry, 0, len(plan.Entries))}
	for i := range plan.Entries {
		q.entries = append(q.entries, &plan.Entries[i])
	}
	outcomes := make([]EntryOutcome, len(plan.Entries))
	pos := map[int]int{}
	for i, e := range plan.Entries {
		pos[e.Index] = i
		outcomes[i].Entry = &plan.Entries[i]
	}
	var mu sync.Mutex
	failures := 0
	stop := func(reason string) {
		if q.stop(reason) && r.Observer != nil {
			r.Observer.Stopping(reason)
		}
	}
	// Ctrl-C and the campaign's limit stop the dispatch; the running
	// scripts are stopped by the executor (interrupt, deadline).
	watchDone := make(chan struct{})
	go func() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		select {
		case <-ctx.Done():
			stop("interrupted")
		case <-r.Stop:
			stop("interrupted")
		case <-timer.C:
			stop(fmt.Sprintf("the campaign ran past its limit of %s", plan.Settings.Timeout))
		case <-watchDone:
		}
	}()

	// A sequential campaign has one worker that runs every entry (on its
	// pinned device, else the first of the pool); in parallel each device
	// of the pool has a worker.
	worker := func(device string, any bool) {
		for {
			e := q.next(device, any)
			if e == nil {
				return
			}
			dev := device
			if e.Device != "" {
				dev = e.Device
			}
			attempts, last := r.runEntry(ctx, plan, c, e, dev, shard, deadline)
			mu.Lock()
			o := &outcomes[pos[e.Index]]
			o.Attempts, o.Last = attempts, last
			o.Status = store.FinalStatus(attempts)
			if last != nil {
				out.Results[last.ID] = last
			}
			failed := failing(o.Status, plan.Options.FailOnFlaky)
			if failed {
				failures++
			}
			n := failures
			mu.Unlock()
			switch {
			case o.Status == store.StatusInterrupted:
				stop("interrupted")
			case failed && !plan.Settings.ContinueOnFailure:
				stop(fmt.Sprintf("%s %s and continue_on_failure is false", e.Script.Name, o.Status))
			case failed && plan.Settings.MaxFailures > 0 && n >= plan.Settings.MaxFailures:
				stop(fmt.Sprintf("%d failure(s), the most allowed (--max-failures %d)", n, plan.Settings.MaxFailures))
			}
		}
	}
	var wg sync.WaitGroup
	if plan.Workers <= 1 {
		wg.Add(1)
		go func() { defer wg.Done(); worker(firstOr(plan.Pool, ""), true) }()
	} else {
		for _, d := range plan.Pool[:plan.Workers] {
			wg.Add(1)
			go func(d string) { defer wg.Done(); worker(d, false) }(d)
		}
	}
	wg.Wait()
	close(watchDone)

	reason := q.reason()
	out.TimedOut = !time.Now().Before(deadline)
	out.Interrupted = reason == "interrupted"
	for _, e := range q.rest() {
		o := &outcomes[pos[e.Index]]
		na := store.CampaignEntry{CampaignID: c.ID, Index: e.Index, Attempt: 1, Shard: shard, ScriptName: e.Script.Name,
			DeviceID: e.Device, Status: store.StatusNotRun, StartedAt: time.Now().UTC(), Error: "not run: " + reason}
		if err := r.Store.PutCampaignEntry(context.Background(), na); err != nil {
			r.log().Warn("recording a skipped entry", "err", err)
		}
		o.Attempts, o.Status = []store.CampaignEntry{na}, store.StatusNotRun
	}
	out.Entries = outcomes

	// Finalise: this shard, then the whole execution when every shard is in.
	return out, r.finalise(plan, out, start, shard, shards)
}

// failing tells whether an entry's final status counts as a failure.
func failing(s store.Status, failOnFlaky bool) bool {
	switch s {
	case store.StatusPassed, store.StatusNotRun:
		return false
	case store.StatusFlaky:
		return failOnFlaky
	}
	return true
}

// runEntry runs an entry's attempts on a device until one passes or the
// retries are spent. Every attempt keeps its own run folder.
func (r *Runner) runEntry(ctx context.Context, plan *Plan, c *store.Campaign, e *PlannedEntry, device string, shard int, deadline time.Time) ([]store.CampaignEntry, *store.Result) {
	var attempts []store.CampaignEntry
	var last *store.Result
	for attempt := 1; attempt <= e.Retries+1; attempt++ {
		if attempt > 1 && (ctx.Err() != nil || !time.Now().Before(deadline) || isClosed(r.Stop)) {
			break
		}
		if r.Observer != nil {
			r.Observer.EntryStarted(e, attempt, device)
		}
		started := time.Now()
		res, err := r.Exec.Run(ctx, executor.Request{
			Script: e.Script, Args: e.Args, DeviceID: device, UserInterface: e.UserInterface, Timeout: e.Timeout,
			Deadline: deadline, CampaignID: c.ExecutionID, Attempt: attempt,
			Prefix: fmt.Sprintf("[%s %s] ", device, e.Script.Name),
		})
		ce := store.CampaignEntry{CampaignID: c.ID, Index: e.Index, Attempt: attempt, Shard: shard, ScriptName: e.Script.Name,
			DeviceID: device, StartedAt: started.UTC(), DurationMs: time.Since(started).Milliseconds()}
		switch {
		case res != nil:
			ce.Status, ce.ScriptResultID, ce.RunDir, ce.Error = res.Status, res.ID, res.RunDir, res.ErrorMsg
			ce.DurationMs = res.ExecutionTimeMs
			last = res
		case errors.Is(err, context.Canceled):
			ce.Status, ce.Error = store.StatusInterrupted, err.Error()
		default:
			// The run could not start: no row exists, the entry records why.
			ce.Status, ce.Error = store.StatusError, err.Error()
		}
		if perr := r.Store.PutCampaignEntry(context.Background(), ce); perr != nil {
			r.log().Warn("recording a campaign entry", "err", perr)
		}
		attempts = append(attempts, ce)
		if r.Observer != nil {
			r.Observer.EntryFinished(e, attempt, device, res, err)
		}
		if ce.Status == store.StatusPassed || ce.Status == store.StatusInterrupted {
			break
		}
	}
	return attempts, last
}

// finalise writes the campaign's stats and status, its reports, and, for
// the last shard to finish, the status of the whole execution.
func (r *Runner) finalise(plan *Plan, out *Outcome, start time.Time, shard, shards int) error {
	ctx := context.Background()
	c := out.Campaign
	status := StatusCompleted
	for _, e := range out.Entries {
		if failing(e.Status, plan.Options.FailOnFlaky) && e.Status != store.StatusInterrupted {
			status = StatusFailed
		}
	}
	switch {
	case out.Interrupted:
		status = StatusCancelled
	case out.TimedOut:
		status = StatusTimeout
	}
	done, err := r.Store.FinishShard(ctx, c.ID, shard, status, r.HostName)
	if err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	// Every shard's entries, for the stats and the reports.
	sum, results, err := report.LoadCampaign(ctx, r.Store, c.ID, out.Dir)
	if err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	for id, res := range results {
		out.Results[id] = res
	}
	c.Stats = Stats(sum, plan.Total, plan.Options.FailOnFlaky)
	c.ShardsDone = done
	end := time.Now().UTC()
	if len(done) >= shards {
		// The whole execution is over: its status is the worst of its parts.
		c.Status = status
		if c.Status == StatusCompleted && (c.Stats.Failed+c.Stats.Error+c.Stats.Timeout > 0 || plan.Options.FailOnFlaky && c.Stats.Flaky > 0) {
			c.Status = StatusFailed
		}
		c.CompletedAt = &end
		c.ExecutionTimeMs = end.Sub(c.StartedAt).Milliseconds()
		c.Success = c.Status == StatusCompleted
	} else {
		c.ExecutionTimeMs = end.Sub(c.StartedAt).Milliseconds()
	}
	if out.Interrupted {
		c.ErrorMessage = "cancelled (interrupted)"
	} else if out.TimedOut {
		c.ErrorMessage = fmt.Sprintf("timed out after %s", plan.Settings.Timeout)
	}
	c.ReportDir = out.Dir
	sum.Campaign = c
	if err := r.Store.UpdateCampaign(ctx, c); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	out.Summary = sum
	if err := report.WriteCampaign(out.Dir, sum); err != nil {
		return fmt.Errorf("campaign report: %w", err)
	}
	return nil
}

// Stats counts entries by final status. total is the number of entries
// in the file; entries no shard has recorded yet are not run (so far).
func Stats(sum report.CampaignSummary, total int, failOnFlaky bool) store.CampaignStats {
	s := store.CampaignStats{Total: total}
	for _, e := range sum.Entries {
		switch e.Status {
		case store.StatusPassed:
			s.Passed++
		case store.StatusFlaky:
			s.Flaky++
		case store.StatusFailed:
			s.Failed++
		case store.StatusTimeout:
			s.Timeout++
		case store.StatusError, store.StatusAbandoned:
			s.Error++
		case store.StatusInterrupted:
			s.Interrupted++
		case store.StatusNotRun:
			s.NotRun++
		}
		if e.Status != store.StatusNotRun {
			s.Completed++
		}
		s.DurationMs += e.DurationMs
	}
	if missing := total - len(sum.Entries); missing > 0 {
		s.NotRun += missing
	}
	return s
}

// queue is the shared queue of entries: each device's worker takes the
// next entry it may run, so faster devices run more.
type queue struct {
	mu      sync.Mutex
	entries []*PlannedEntry
	stopped string
}

func (q *queue) next(device string, any bool) *PlannedEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped != "" {
		return nil
	}
	for i, e := range q.entries {
		if any || e.Device == "" || e.Device == device {
			q.entries = append(q.entries[:i], q.entries[i+1:]...)
			return e
		}
	}
	return nil
}

// stop ends the dispatch; it reports whether this call stopped it.
func (q *queue) stop(reason string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped != "" {
		return false
	}
	q.stopped = reason
	return true
}

func (q *queue) reason() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stopped
}

// rest returns the entries no worker took, in file order.
func (q *queue) rest() []*PlannedEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := append([]*PlannedEntry(nil), q.entries...)
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func deviceName(d Devices) string {
	if d.Auto() {
		return "auto"
	}
	return strings.Join(d, ",")
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func isClosed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}
