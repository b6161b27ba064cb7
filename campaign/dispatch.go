package campaign

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/store"
)

// dispatch hands a plan's entries to the devices of its pool: each device
// takes the next entry it may run from one queue, so faster devices run
// more; a device that fails is taken out, and the entry it held goes back
// to the queue for another device, without using up a retry.
type dispatch struct {
	r        *Runner
	plan     *Plan
	c        *store.Campaign
	shard    int
	pool     []string
	deadline time.Time
	out      *Outcome
	q        *queue

	mu       sync.Mutex
	outcomes []EntryOutcome
	pos      map[int]int
	failures int
	claimed  map[string]bool
}

func newDispatch(r *Runner, plan *Plan, c *store.Campaign, shard int, pool []string, deadline time.Time, out *Outcome) *dispatch {
	d := &dispatch{r: r, plan: plan, c: c, shard: shard, pool: pool, deadline: deadline, out: out,
		q: newQueue(), outcomes: make([]EntryOutcome, len(plan.Entries)), pos: map[int]int{}, claimed: map[string]bool{}}
	for i := range plan.Entries {
		e := &plan.Entries[i]
		d.pos[e.Index] = i
		d.outcomes[i].Entry = e
		d.q.push(e)
	}
	return d
}

// run works the queue until it is empty or stopped, then records what did
// not run.
func (d *dispatch) run(ctx context.Context) {
	watchDone := make(chan struct{})
	go d.watch(ctx, watchDone)
	var wg sync.WaitGroup
	workers := min(max(d.plan.Workers, 1), len(d.pool))
	if d.plan.Placed {
		// The placer holds the devices: every worker hands it an entry.
		workers = max(d.plan.Workers, 1)
	}
	for range workers {
		wg.Add(1)
		go func() { defer wg.Done(); d.worker(ctx, d.plan.Workers > 1 && !d.plan.Placed) }()
	}
	wg.Wait()
	close(watchDone)
	d.finish()
}

// watch stops the dispatch on Ctrl-C and at the campaign's limit; running
// scripts are stopped by the executor (the same context, the deadline).
func (d *dispatch) watch(ctx context.Context, done <-chan struct{}) {
	timer := time.NewTimer(time.Until(d.deadline))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		d.stop("interrupted")
	case <-timer.C:
		d.stop(d.pastLimit())
	case <-done:
	}
}

func (d *dispatch) pastLimit() string {
	return fmt.Sprintf("the campaign ran past its limit of %s", d.plan.Settings.Timeout)
}

func (d *dispatch) stop(reason string) {
	if !d.q.stop(reason) {
		return
	}
	if d.r.Observer != nil {
		d.r.Observer.Stopping(reason)
	}
	if p, ok := d.r.Exec.(Placer); ok && d.plan.Placed {
		p.Withdraw(d.c.ExecutionID, reason)
	}
}

// worker runs entries until the queue has nothing more for it. In
// parallel it holds one device of the pool, and takes another free one when
// its device fails; the sequential worker runs each entry on its pinned
// device, else on the first healthy device of the pool.
func (d *dispatch) worker(ctx context.Context, parallel bool) {
	dev := ""
	if parallel {
		if dev = d.claim(); dev == "" {
			return
		}
	}
	for {
		e := d.q.next(func(e *PlannedEntry) bool { return d.deviceFor(e, dev) != "" })
		if e == nil {
			return
		}
		device := d.deviceFor(e, dev)
		failed, down, again := d.runEntry(ctx, e, device)
		if again {
			d.q.requeue(e)
		} else {
			d.q.done()
		}
		if down == "" {
			continue
		}
		d.takeOut(failed, down)
		if parallel {
			if dev = d.claim(); dev == "" {
				return
			}
		}
	}
}

// claim gives a parallel worker a healthy device no other worker holds.
func (d *dispatch) claim() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range d.pool {
		if _, down := d.out.DevicesDown[id]; !down && !d.claimed[id] {
			d.claimed[id] = true
			return id
		}
	}
	return ""
}

// deviceFor is the device a worker runs e on, "" when it may not.
func (d *dispatch) deviceFor(e *PlannedEntry, worker string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.plan.Placed {
		// A selector, for the placer; one naming a device that failed
		// (agent/device) has nowhere to go.
		if _, down := d.out.DevicesDown[e.Device]; down {
			return ""
		}
		return e.Device
	}
	if e.Device != "" {
		if _, down := d.out.DevicesDown[e.Device]; down || worker != "" && worker != e.Device {
			return ""
		}
		return e.Device
	}
	if worker != "" {
		if _, down := d.out.DevicesDown[worker]; down {
			return ""
		}
		return worker
	}
	for _, id := range d.pool {
		if _, down := d.out.DevicesDown[id]; !down {
			return id
		}
	}
	return ""
}

func (d *dispatch) takeOut(device, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, already := d.out.DevicesDown[device]; !already {
		d.r.deviceDown(d.out, device, reason)
	}
}

// runEntry runs an entry's attempts on a device until one passes or its
// retries are spent. Every attempt keeps its own run folder. It returns
// which device failed and why when one did, and whether the entry goes
// back to the queue for another device (without using up a retry).
func (d *dispatch) runEntry(ctx context.Context, e *PlannedEntry, device string) (failed, down string, again bool) {
	if d.halted(ctx) {
		// Taken as the campaign stopped: back to the queue, whose entries
		// are recorded as not run, with why (finish).
		return "", "", true
	}
	for {
		attempt := len(d.outcome(e).Attempts) + 1
		res, err := d.attempt(ctx, e, device, attempt)
		// No retry on a device that failed: another device, or none (and
		// none once the campaign has stopped: the attempt is its last).
		deviceFailed := errors.Is(err, executor.ErrDevice)
		requeue := deviceFailed && !d.halted(ctx) && d.retriesLeft(e, device)
		ce := d.record(e, device, attempt, res, err, requeue)
		retry := !deviceFailed && ce.Status != store.StatusPassed && ce.Status != store.StatusInterrupted &&
			ce.Status != store.StatusNotRun && d.retriesLeft(e, "") && !d.halted(ctx)
		end := AttemptEnd{Attempt: attempt, Device: ce.DeviceID, Result: res, Err: err, Requeued: requeue, Final: !requeue && !retry,
			Ran: true}
		if end.Final {
			end.Status = d.judge(e)
		}
		if d.r.Observer != nil {
			d.r.Observer.EntryFinished(e, end)
		}
		if deviceFailed {
			failed, why := device, err
			var de *DeviceError
			if errors.As(err, &de) {
				failed, why = de.Device, de.Err
			}
			return failed, firstLine(why.Error()), requeue
		}
		if end.Final {
			return "", "", false
		}
	}
}

// halted tells whether no attempt may start any more: the campaign was
// interrupted, ran out of time or stopped. The first to notice stops the
// queue with the reason (the watch may not have yet), so that no entry
// starts after it and finish records every entry left, with why.
func (d *dispatch) halted(ctx context.Context) bool {
	switch {
	case d.q.stopped() != "":
	case ctx.Err() != nil:
		d.stop("interrupted")
	case !time.Now().Before(d.deadline):
		d.stop(d.pastLimit())
	default:
		return false
	}
	return true
}

// retriesLeft tells whether e may run again: after its device failedOn
// failed, while another device may take it (bounded by the pool's size);
// otherwise ("") while its retries are not spent.
func (d *dispatch) retriesLeft(e *PlannedEntry, failedOn string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := &d.outcomes[d.pos[e.Index]]
	requeued := 0
	for _, a := range o.Attempts {
		if a.Requeued {
			requeued++
		}
	}
	if failedOn != "" && d.plan.Placed {
		sel, _ := ParseSelector(e.Device)
		return !sel.Pinned() && requeued < max(len(d.pool)-1, placedRequeues)
	}
	if failedOn != "" {
		return e.Device == "" && requeued < len(d.pool)-1 && d.othersHealthy(failedOn)
	}
	return len(o.Attempts)-requeued <= e.Retries
}

// othersHealthy tells whether a device of the pool other than failed is
// not down: one that may take an entry. d.mu is held.
func (d *dispatch) othersHealthy(failed string) bool {
	for _, id := range d.pool {
		if _, down := d.out.DevicesDown[id]; !down && id != failed {
			return true
		}
	}
	return false
}

// attempt makes one run; while the store is unavailable it waits (bounded
// by StoreOutage and the deadline) instead of burning the queue.
func (d *dispatch) attempt(ctx context.Context, e *PlannedEntry, device string, attempt int) (*store.Result, error) {
	if d.r.Observer != nil && !d.plan.Placed {
		d.r.Observer.EntryStarted(e, attempt, device)
	}
	req := executor.Request{
		Script: e.Script, Args: e.Args, DeviceID: device, UserInterface: e.UserInterface, Timeout: e.Timeout,
		Deadline: d.deadline, CampaignID: d.c.ExecutionID, Entry: e.Index, Attempt: attempt, WholeLines: true,
		CheckVideo: e.CheckVideo, CheckAudio: e.CheckAudio,
		Prefix: fmt.Sprintf("[%s %s] ", device, e.Script.Name),
		Started: func(res *store.Result) {
			where := d.where(device, res)
			ce := store.CampaignEntry{CampaignID: d.c.ID, Index: e.Index, Attempt: attempt, Shard: d.shard,
				ScriptName: e.Script.Name, DeviceID: where, Status: store.StatusRunning, ScriptResultID: res.ID,
				StartedAt: res.StartedAt, RunDir: res.RunDir}
			d.put(ce, d.r.entryEvent(d.c, store.EventEntryStarted, ce))
			if d.r.Observer != nil && d.plan.Placed {
				// A placed attempt starts when a device takes it.
				d.r.Observer.EntryStarted(e, attempt, where)
			}
		},
	}
	outage := d.r.StoreOutage
	if outage <= 0 {
		outage = DefaultStoreOutage
	}
	var since time.Time
	wait := 250 * time.Millisecond
	for {
		res, err := d.r.Exec.Run(ctx, req)
		if res != nil || !errors.Is(err, store.ErrUnavailable) {
			return res, err
		}
		if since.IsZero() {
			since = time.Now()
			if d.r.Observer != nil {
				d.r.Observer.Waiting(fmt.Sprintf("the results store is unavailable (%v); waiting up to %s for it", firstLine(err.Error()), outage))
			}
		}
		if time.Since(since) > outage || !sleepCtx(ctx, wait, d.deadline) {
			return res, err
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// sleepCtx waits d unless ctx ends or the deadline comes first; it reports
// whether the whole wait passed.
func sleepCtx(ctx context.Context, d time.Duration, deadline time.Time) bool {
	if left := time.Until(deadline); left < d {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// where names the device an attempt ran on: the one it was given, or,
// placed, the one the placer chose.
func (d *dispatch) where(device string, res *store.Result) string {
	if d.plan.Placed && res != nil {
		return PlacedDevice(res)
	}
	return device
}

// record stores one attempt.
func (d *dispatch) record(e *PlannedEntry, device string, attempt int, res *store.Result, err error, requeued bool) store.CampaignEntry {
	device = d.where(device, res)
	ce := store.CampaignEntry{CampaignID: d.c.ID, Index: e.Index, Attempt: attempt, Shard: d.shard, ScriptName: e.Script.Name,
		DeviceID: device, StartedAt: time.Now().UTC(), Status: AttemptStatus(res, err)}
	switch {
	case res != nil:
		ce.ScriptResultID, ce.RunDir, ce.Error = res.ID, res.RunDir, res.ErrorMsg
		ce.StartedAt, ce.DurationMs = res.StartedAt, res.ExecutionTimeMs
	case ce.Status == store.StatusNotRun:
		ce.Error = "not run: " + err.Error()
	default:
		// The run could not start: no row exists, the entry records why.
		ce.Error = err.Error()
	}
	ce.Requeued = requeued
	d.put(ce, d.r.entryEvent(d.c, store.EventEntryFinished, ce))
	d.mu.Lock()
	o := &d.outcomes[d.pos[e.Index]]
	o.Attempts = append(o.Attempts, ce)
	if res != nil {
		o.Last = res
		d.out.Results[res.ID] = res
	}
	d.mu.Unlock()
	return ce
}

// AttemptStatus is how an attempt ended: its run's status; for one whose
// run did not start (no row), not run (NotStarted), interrupted, or error.
func AttemptStatus(res *store.Result, err error) store.Status {
	switch {
	case res != nil:
		return res.Status
	case NotStarted(err):
		return store.StatusNotRun
	case errors.Is(err, context.Canceled):
		return store.StatusInterrupted
	}
	return store.StatusError
}

// NotStarted tells the errors of an attempt whose script never started
// because the campaign stopped or withdrew it first: past its limit while
// waiting for a device, interrupted then, withdrawn from the lab. Such an
// entry is not run.
func NotStarted(err error) bool {
	return errors.Is(err, executor.ErrDeadline) || errors.Is(err, executor.ErrWaitInterrupted) || errors.Is(err, ErrWithdrawn)
}

// put writes an attempt with its events, retrying while the store is
// briefly away.
func (d *dispatch) put(ce store.CampaignEntry, evs ...store.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := d.r.Store.PutCampaignEntry(ctx, ce, evs...)
		if err == nil {
			return
		}
		if !sleepCtx(ctx, wait, time.Now().Add(time.Minute)) {
			d.r.log().Warn("recording a campaign entry", "err", err)
			return
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (d *dispatch) outcome(e *PlannedEntry) EntryOutcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.outcomes[d.pos[e.Index]]
}

// judge sets an entry's final status and returns it; it stops the
// campaign when the failures say so.
func (d *dispatch) judge(e *PlannedEntry) store.Status {
	d.mu.Lock()
	o := &d.outcomes[d.pos[e.Index]]
	o.Status = summary.FinalStatus(o.Attempts)
	status := o.Status
	failed := failing(o.Status, d.plan.Options.FailOnFlaky)
	if failed {
		d.failures++
	}
	n, s := d.failures, d.plan.Settings
	d.mu.Unlock()
	switch {
	case status == store.StatusInterrupted:
		d.stop("interrupted")
	case failed && !s.ContinueOnFailure:
		d.stop(fmt.Sprintf("%s %s and continue_on_failure is false", e.Script.Name, status))
	case failed && s.MaxFailures > 0 && n >= s.MaxFailures:
		d.stop(fmt.Sprintf("%d failure(s), the most allowed (--max-failures %d)", n, s.MaxFailures))
	}
	return status
}

// finish records the entries that did not run, with why, and hands the
// outcomes over.
func (d *dispatch) finish() {
	reason := d.q.stopped()
	d.out.TimedOut = !time.Now().Before(d.deadline)
	d.out.Interrupted = reason == "interrupted"
	for _, e := range d.q.rest() {
		o := &d.outcomes[d.pos[e.Index]]
		status, why := store.StatusNotRun, "not run: "+reason
		if reason == "" {
			// Nothing stopped the campaign: every device that could run the
			// entry failed.
			status, why = store.StatusError, "no healthy device could run it: "+downList(d.out.DevicesDown)
		}
		na := store.CampaignEntry{CampaignID: d.c.ID, Index: e.Index, Attempt: len(o.Attempts) + 1, Shard: d.shard,
			ScriptName: e.Script.Name, DeviceID: e.Device, Status: status, StartedAt: time.Now().UTC(), Error: why}
		d.put(na, d.r.entryEvent(d.c, store.EventEntryFinished, na))
		o.Attempts = append(o.Attempts, na)
		o.Status = summary.FinalStatus(o.Attempts)
		if status == store.StatusNotRun {
			o.Status = store.StatusNotRun
		}
		if d.r.Observer != nil {
			d.r.Observer.EntryFinished(e, AttemptEnd{Attempt: na.Attempt, Device: e.Device, Err: errors.New(why), Final: true, Status: o.Status})
		}
	}
	d.out.Entries = d.outcomes
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

// queue is the shared queue of entries. A worker waits while entries are
// in flight elsewhere, since one may come back (its device failed).
type queue struct {
	mu       sync.Mutex
	cond     *sync.Cond
	entries  []*PlannedEntry
	inflight int
	reason   string
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(e *PlannedEntry) { q.entries = append(q.entries, e) }

// next takes the first entry ok accepts; it returns nil once the queue is
// stopped, or holds nothing for ok with nothing in flight.
func (q *queue) next(ok func(*PlannedEntry) bool) *PlannedEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.reason != "" {
			return nil
		}
		for i, e := range q.entries {
			if ok(e) {
				q.entries = append(q.entries[:i], q.entries[i+1:]...)
				q.inflight++
				return e
			}
		}
		if q.inflight == 0 {
			return nil
		}
		q.cond.Wait()
	}
}

// done ends an entry taken with next.
func (q *queue) done() {
	q.mu.Lock()
	q.inflight--
	q.mu.Unlock()
	q.cond.Broadcast()
}

// requeue puts an entry taken with next back at the front.
func (q *queue) requeue(e *PlannedEntry) {
	q.mu.Lock()
	q.entries = append([]*PlannedEntry{e}, q.entries...)
	q.inflight--
	q.mu.Unlock()
	q.cond.Broadcast()
}

// stop ends the dispatch; it reports whether this call stopped it.
func (q *queue) stop(reason string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.cond.Broadcast()
	if q.reason != "" {
		return false
	}
	q.reason = reason
	return true
}

func (q *queue) stopped() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.reason
}

// rest returns the entries no worker took, in file order.
func (q *queue) rest() []*PlannedEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := append([]*PlannedEntry(nil), q.entries...)
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}
