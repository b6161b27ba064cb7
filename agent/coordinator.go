package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/store"
)

// Coordinator is the lab as a distributed campaign sees it: a campaign.Lab
// to plan against and a campaign.Placer to run with. Each attempt becomes
// one River job in the queue of its selector; the coordinator waits for
// the attempt's row (NOTIFY, else a poll every second) and returns the
// run's result as executor.Runner would.
type Coordinator struct {
	pool  *pgxpool.Pool
	river *river.Client[pgx.Tx]
	store store.Store
	log   *slog.Logger
	// Kill closes on the second Ctrl-C: stop waiting for remote scripts.
	Kill <-chan struct{}
	// CancelWait bounds the wait for the rows of remote scripts after a
	// Ctrl-C (0: DefaultCancelWait).
	CancelWait time.Duration
	// Events hears of agents the coordinator's reaper found dead (nil:
	// none).
	Events func(Event)

	labMu sync.Mutex
	lab   *lab
	labAt time.Time

	hubOnce sync.Once
	hub     *hub
	stop    context.CancelFunc

	mu        sync.Mutex
	withdrawn map[string]string
}

// DefaultCancelWait: a cancelled remote script has this long to stop and
// be recorded before the coordinator gives up on it.
const DefaultCancelWait = 30 * time.Second

// Connect opens the lab's database at url (the results store st is the
// same database).
func Connect(ctx context.Context, url string, st store.Store, log *slog.Logger) (*Coordinator, error) {
	if err := CheckURL(url, "a distributed campaign"); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pool, err := openPool(ctx, url, 10)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	rc, err := insertOnly(pool, log)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Coordinator{pool: pool, river: rc, store: st, log: log, withdrawn: map[string]string{}}, nil
}

// Close stops listening and closes the connections.
func (c *Coordinator) Close() {
	if c.stop != nil {
		c.stop()
	}
	c.pool.Close()
}

// Agents lists the lab's agents with their devices.
func (c *Coordinator) Agents(ctx context.Context) ([]AgentInfo, error) {
	return listAgents(ctx, c.pool)
}

// Resolve implements campaign.Lab against the lab as it is now.
func (c *Coordinator) Resolve(selector, ui string) (string, []string, error) {
	c.labMu.Lock()
	defer c.labMu.Unlock()
	if c.lab == nil || time.Since(c.labAt) > 2*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		agents, err := listAgents(ctx, c.pool)
		cancel()
		if err != nil {
			return "", nil, err
		}
		c.lab, c.labAt = &lab{agents: agents}, time.Now()
	}
	return c.lab.Resolve(selector, ui)
}

// Withdraw implements campaign.Placer: the jobs of the execution that no
// agent has taken are deleted (River keeps running jobs).
func (c *Coordinator) Withdraw(executionID, reason string) {
	c.mu.Lock()
	c.withdrawn[executionID] = reason
	c.mu.Unlock()
	if c.hub == nil {
		return
	}
	for _, w := range c.hub.of(executionID) {
		if id := w.jobID.Load(); id > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := c.river.JobDelete(ctx, id); err != nil && !errors.Is(err, rivertype.ErrJobRunning) && !errors.Is(err, river.ErrNotFound) {
				c.log.Warn("withdrawing a job", "job", id, "err", err)
			}
			cancel()
		}
		w.wake()
	}
}

func (c *Coordinator) withdrawnWhy(executionID string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.withdrawn[executionID]
}

// Cancel cancels every job of a campaign execution, from any host (vpt
// campaign cancel): queued ones at once, running ones through their
// worker's context (their scripts get the graceful stop and are recorded
// interrupted). It returns the jobs it cancelled (a running one again
// when called again before its script stopped).
func (c *Coordinator) Cancel(ctx context.Context, executionID string) ([]int64, error) {
	params := river.NewJobListParams().Kinds(attemptArgs{}.Kind()).
		States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning,
			rivertype.JobStateScheduled).
		Where("args->>'execution_id' = @e", river.NamedArgs{"e": executionID}).First(10000)
	list, err := c.river.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("%w: listing the campaign's jobs: %w", store.ErrUnavailable, err)
	}
	var ids []int64
	for _, j := range list.Jobs {
		if _, err := c.river.JobCancel(ctx, j.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return ids, fmt.Errorf("%w: cancelling job %d: %w", store.ErrUnavailable, j.ID, err)
		}
		ids = append(ids, j.ID)
	}
	return ids, nil
}

// Run implements campaign.Executor: the attempt is enqueued (once: a
// resubmit finds the job or the row it made) and awaited.
func (c *Coordinator) Run(ctx context.Context, req executor.Request) (*store.Result, error) {
	sel, err := campaign.ParseSelector(req.DeviceID)
	if err != nil {
		return nil, err
	}
	k := attemptKey{req.CampaignID, req.Entry, req.Attempt}
	if why := c.withdrawnWhy(k.Exec); why != "" {
		return nil, withdrawn(why)
	}
	h := c.startHub()
	w := h.add(k, queueFor(sel))
	defer h.remove(w)
	id, err := c.enqueue(ctx, req, sel)
	if err != nil {
		return nil, err
	}
	w.jobID.Store(id)
	if c.withdrawnWhy(k.Exec) != "" {
		c.Withdraw(k.Exec, c.withdrawnWhy(k.Exec))
	}
	var st waitState
	for {
		if res, err, done := c.check(ctx, w, req, &st); done {
			return res, err
		}
		select {
		case <-w.poke:
		case <-ctx.Done():
			return c.cancelled(ctx, w, req, &st)
		case <-c.Kill:
			return nil, interrupted(ctx)
		}
	}
}

func withdrawn(why string) error { return fmt.Errorf("%w (%s)", campaign.ErrWithdrawn, why) }

// interrupted is the error of an attempt given up on a Ctrl-C: a
// context.Canceled, with the cause.
func interrupted(ctx context.Context) error {
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, context.Canceled) {
		return context.Canceled
	}
	return fmt.Errorf("%w: %w", context.Canceled, cause)
}

// enqueue inserts the attempt's job and returns its id; an attempt that
// has a row already (it ran, and its job may be cleaned away since) is not
// enqueued again.
func (c *Coordinator) enqueue(ctx context.Context, req executor.Request, sel campaign.Selector) (int64, error) {
	var id int64
	err := c.pool.QueryRow(ctx, "SELECT job_id FROM vpt_attempts WHERE execution_id = $1 AND entry_index = $2 AND attempt = $3",
		req.CampaignID, req.Entry, req.Attempt).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	sum, err := fileSHA256(req.Script.Path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", req.Script.Path, err)
	}
	args := attemptArgs{ExecutionID: req.CampaignID, Entry: req.Entry, Attempt: req.Attempt, Protocol: Protocol,
		Selector: sel.String(), Script: req.Script.Name, ScriptSHA256: sum, Args: req.Args, UserInterface: req.UserInterface,
		TimeoutMs: req.Timeout.Milliseconds(), Deadline: req.Deadline}
	if req.Script.AIScriptName != "" {
		args.ScriptSHA256 = "" // the AI executor runs under the test case's name
	}
	res, err := c.river.Insert(ctx, args, &river.InsertOpts{Queue: queueFor(sel), MaxAttempts: 1,
		Tags: []string{"vpt", executionTag(req.CampaignID)}, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return 0, fmt.Errorf("%w: enqueueing %s: %w", store.ErrUnavailable, req.Script.Name, err)
	}
	return res.Job.ID, nil
}

// waitState is what one attempt's wait has seen.
type waitState struct {
	started bool
	// unserved: the coordinator cancelled the job itself, as no live agent
	// serves its queue any more.
	unserved bool
}

// attemptRow is an attempt's row.
type attemptRow struct {
	state, agent, device, resultID, status, err string
	infra                                       bool
}

func (c *Coordinator) attemptRow(ctx context.Context, k attemptKey) (attemptRow, bool, error) {
	var r attemptRow
	err := c.pool.QueryRow(ctx, `SELECT state, agent, device_id, result_id, status, error, infra FROM vpt_attempts
		WHERE execution_id = $1 AND entry_index = $2 AND attempt = $3`, k.Exec, k.Entry, k.Attempt).
		Scan(&r.state, &r.agent, &r.device, &r.resultID, &r.status, &r.err, &r.infra)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// check looks at the attempt once: done reports that it ended, with the
// result and error Run returns.
func (c *Coordinator) check(ctx context.Context, w *waiter, req executor.Request, st *waitState) (*store.Result, error, bool) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	row, found, err := c.attemptRow(qctx, w.key)
	if err != nil {
		c.log.Debug("reading an attempt", "err", err)
		return nil, nil, false
	}
	if !found {
		return c.unstarted(qctx, ctx, w, req, st)
	}
	if row.resultID != "" && !st.started {
		c.started(qctx, req, st, row.resultID)
	}
	if row.state != "done" {
		return nil, nil, false
	}
	return c.outcome(qctx, ctx, req, st, row)
}

func (c *Coordinator) started(ctx context.Context, req executor.Request, st *waitState, resultID string) *store.Result {
	res, err := c.store.GetResult(ctx, resultID)
	if err != nil {
		return nil
	}
	if !st.started && req.Started != nil {
		req.Started(res)
	}
	st.started = true
	return res
}

// unstarted handles an attempt no agent has begun: its job may have ended
// without it (cancelled, withdrawn), or lost every agent that could take it.
func (c *Coordinator) unstarted(qctx, ctx context.Context, w *waiter, req executor.Request, st *waitState) (*store.Result, error, bool) {
	id := w.jobID.Load()
	if id == 0 {
		return nil, nil, false
	}
	job, err := c.river.JobGet(qctx, id)
	gone := errors.Is(err, river.ErrNotFound)
	if err != nil && !gone {
		return nil, nil, false
	}
	if gone || job.State == rivertype.JobStateCancelled || job.State == rivertype.JobStateDiscarded || job.State == rivertype.JobStateCompleted {
		if _, found, _ := c.attemptRow(qctx, w.key); found {
			return nil, nil, false // written meanwhile: the next look reads it
		}
		switch {
		case c.withdrawnWhy(w.key.Exec) != "":
			return nil, withdrawn(c.withdrawnWhy(w.key.Exec)), true
		case ctx.Err() != nil:
			// Interrupted before any agent began it: not run, as when the
			// campaign's Withdraw came first (they race on a Ctrl-C).
			return nil, withdrawn("the campaign was interrupted"), true
		case st.unserved:
			return nil, c.unservedErr(req), true
		case !gone && job.State == rivertype.JobStateCancelled:
			return nil, fmt.Errorf("%w: the campaign was cancelled (vpt campaign cancel)", context.Canceled), true
		}
		state := "deleted"
		if !gone {
			state = string(job.State)
		}
		return nil, &campaign.DeviceError{Device: req.DeviceID, Err: fmt.Errorf("%w: its job ended (%s) before an agent ran it", executor.ErrDevice, state)}, true
	}
	if w.unserved.Load() && !st.unserved && ctx.Err() == nil {
		st.unserved = true
		if row, err := c.river.JobCancel(qctx, id); err == nil && row.State == rivertype.JobStateCancelled {
			return nil, c.unservedErr(req), true
		}
	}
	return nil, nil, false
}

func (c *Coordinator) unservedErr(req executor.Request) error {
	return &campaign.DeviceError{Device: req.DeviceID, Err: fmt.Errorf("%w: no live agent serves %s any more", executor.ErrDevice, req.DeviceID)}
}

// outcome turns a finished attempt's row into Run's result and error.
func (c *Coordinator) outcome(qctx, ctx context.Context, req executor.Request, st *waitState, row attemptRow) (*store.Result, error, bool) {
	var res *store.Result
	if row.resultID != "" {
		for i := 0; i < 10 && res == nil; i++ {
			if res = c.started(qctx, req, st, row.resultID); res == nil {
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	where := row.agent + "/" + row.device
	if row.device == "" {
		where = row.agent + "/*"
	}
	switch {
	case store.Status(row.status) == store.StatusInterrupted && res == nil:
		switch {
		case c.withdrawnWhy(req.CampaignID) != "":
			return nil, withdrawn(c.withdrawnWhy(req.CampaignID)), true
		case ctx.Err() != nil:
			// Interrupted before any agent began it: not run, as when the
			// campaign's Withdraw came first (they race on a Ctrl-C).
			return nil, withdrawn("the campaign was interrupted"), true
		case st.unserved:
			return nil, c.unservedErr(req), true
		}
		return nil, fmt.Errorf("%w: cancelled before it started (vpt campaign cancel)", context.Canceled), true
	case store.Status(row.status) == store.StatusNotRun:
		return nil, fmt.Errorf("%w: %s", executor.ErrDeadline, row.err), true
	case row.infra:
		return res, &campaign.DeviceError{Device: where, Err: fmt.Errorf("%w: %s", executor.ErrDevice, row.err)}, true
	case res == nil:
		return nil, fmt.Errorf("on %s: %s", where, row.err), true
	}
	return res, nil, true
}

// cancelled stops a remote attempt after a Ctrl-C: its job is cancelled
// (a running script gets its graceful stop on its host), and its row is
// awaited for CancelWait.
func (c *Coordinator) cancelled(ctx context.Context, w *waiter, req executor.Request, st *waitState) (*store.Result, error) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if id := w.jobID.Load(); id > 0 {
		if _, err := c.river.JobCancel(qctx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
			c.log.Warn("cancelling a job", "job", id, "err", err)
		}
	}
	cancel()
	wait := c.CancelWait
	if wait <= 0 {
		wait = DefaultCancelWait
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		if res, err, done := c.check(ctx, w, req, st); done {
			return res, err
		}
		select {
		case <-w.poke:
		case <-timer.C:
			return nil, fmt.Errorf("%w (no word from the agent within %s)", interrupted(ctx), wait)
		case <-c.Kill:
			return nil, interrupted(ctx)
		}
	}
}
