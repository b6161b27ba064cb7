package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// Verdict is a campaign execution's outcome, as an exit code reads it.
type Verdict string

// Verdicts, in the order that decides them.
const (
	VerdictInterrupted Verdict = "interrupted" // Ctrl-C, or an entry was interrupted
	VerdictFailed      Verdict = "failed"      // a script failed (or was flaky, with --fail-on-flaky)
	VerdictTimeout     Verdict = "timeout"     // a script or the campaign ran past its limit
	VerdictError       Verdict = "error"       // an infrastructure error
	VerdictPassed      Verdict = "passed"
)

// Verdict judges the outcome: interrupted, else failed, else timeout, else
// error, else passed. It is the one place the campaign's result is decided;
// the campaign row's status follows it.
func (o *Outcome) Verdict() Verdict {
	if o.Interrupted {
		return VerdictInterrupted
	}
	var failed, timeout, errored bool
	for _, e := range o.Entries {
		switch e.Status {
		case store.StatusFailed:
			failed = true
		case store.StatusFlaky:
			failed = failed || o.FailOnFlaky
		case store.StatusTimeout:
			timeout = true
		case store.StatusError, store.StatusAbandoned:
			errored = true
		case store.StatusInterrupted:
			return VerdictInterrupted
		}
	}
	switch {
	case failed:
		return VerdictFailed
	case timeout || o.TimedOut:
		return VerdictTimeout
	case errored:
		return VerdictError
	}
	return VerdictPassed
}

// rowStatus is the campaign row's status for a verdict of this shard.
func rowStatus(v Verdict) string {
	switch v {
	case VerdictInterrupted:
		return StatusCancelled
	case VerdictTimeout:
		return StatusTimeout
	case VerdictFailed, VerdictError:
		return StatusFailed
	}
	return StatusCompleted
}

// finalise writes the campaign's stats and status, its reports, and, for
// the last shard to finish, the status of the whole execution. Its store
// writes are retried for a while: the store may be restarting.
func (r *Runner) finalise(ctx context.Context, plan *Plan, out *Outcome, shard int) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	c := out.Campaign
	status := rowStatus(out.Verdict())
	var ends []store.ShardEnd
	if err := retry(ctx, func() (err error) {
		ends, err = r.Store.FinishShard(ctx, c.ID, shard, status, r.HostName)
		return err
	}); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	done := make([]int, len(ends))
	for i, e := range ends {
		done[i] = e.Shard
	}
	// Every shard's entries, for the stats and the reports, made without
	// the memory limit: this campaign's scripts are over.
	defer liftMemoryLimit()()
	var sum summary.Summary
	var results map[string]*store.Result
	if err := retry(ctx, func() (err error) {
		sum, results, err = summary.Load(ctx, r.Store, c.ID, report.RunLink(out.Dir))
		return err
	}); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	for id, res := range results {
		out.Results[id] = res
	}
	c.Stats = summary.Stats(sum, plan.Total)
	c.ShardsDone = done
	end := time.Now().UTC()
	c.ExecutionTimeMs = end.Sub(c.StartedAt).Milliseconds()
	if len(done) >= c.ShardTotal {
		c.Status = wholeStatus(sum, ends, plan.Options.FailOnFlaky)
		c.CompletedAt = &end
		c.Success = c.Status == StatusCompleted
	}
	switch {
	case out.Interrupted:
		c.ErrorMessage = "cancelled (interrupted)"
	case out.TimedOut:
		c.ErrorMessage = fmt.Sprintf("timed out after %s", plan.Settings.Timeout)
	}
	if len(out.DevicesDown) > 0 {
		if c.Extra == nil {
			c.Extra = map[string]any{}
		}
		c.Extra["devices_down"] = out.DevicesDown
	}
	sum.Campaign = c
	stats := c.Stats
	evStatus := status
	if len(done) >= c.ShardTotal {
		evStatus = c.Status
	}
	finished := r.event(c, store.EventCampaignFinished, store.CampaignData{Name: c.Name, Status: evStatus, Shard: shard,
		Shards: c.ShardTotal, Stats: &stats, Done: len(done) >= c.ShardTotal, Reason: c.ErrorMessage})
	if err := retry(ctx, func() error { return r.Store.UpdateCampaign(ctx, c, finished) }); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	out.Summary = sum
	if err := report.WriteCampaign(out.Dir, sum, results); err != nil {
		return fmt.Errorf("campaign report: %w", err)
	}
	return nil
}

// wholeStatus is the status of a whole execution once its last shard
// ended: the verdict of every shard's entries, as one shard's is judged,
// with the shards that were interrupted or timed out (which may have left
// entries not run, and none interrupted) counted as this one's would be.
func wholeStatus(sum summary.Summary, ends []store.ShardEnd, failOnFlaky bool) string {
	whole := Outcome{FailOnFlaky: failOnFlaky}
	for _, e := range sum.Entries {
		whole.Entries = append(whole.Entries, EntryOutcome{Status: e.Status})
	}
	for _, e := range ends {
		whole.Interrupted = whole.Interrupted || e.Status == StatusCancelled
		whole.TimedOut = whole.TimedOut || e.Status == StatusTimeout
	}
	return rowStatus(whole.Verdict())
}

// retry calls f until it succeeds, with backoff, until ctx ends.
func retry(ctx context.Context, f func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
