package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/store"
)

// attemptArgs is one attempt of one entry of a distributed campaign: a
// River job. It is unique by execution, entry and attempt, so that a
// resubmit (a coordinator re-attached) enqueues nothing twice.
type attemptArgs struct {
	ExecutionID string `json:"execution_id" river:"unique"`
	Entry       int    `json:"entry" river:"unique"`
	Attempt     int    `json:"attempt" river:"unique"`
	Protocol    int    `json:"protocol"`
	// Selector is the canonical selector the job was routed by.
	Selector string `json:"selector"`
	// Script is the script's name in the scripts folder, which every host
	// of the lab has; ScriptSHA256 its content on the coordinator.
	Script        string    `json:"script"`
	ScriptSHA256  string    `json:"script_sha256"`
	Args          []string  `json:"args"`
	UserInterface string    `json:"userinterface,omitempty"`
	TimeoutMs     int64     `json:"timeout_ms,omitempty"`
	Deadline      time.Time `json:"deadline"`
}

func (attemptArgs) Kind() string { return "vpt_attempt" }

// attemptKey names an attempt across the lab.
type attemptKey struct {
	Exec    string `json:"e"`
	Entry   int    `json:"i"`
	Attempt int    `json:"a"`
}

func (a attemptArgs) key() attemptKey { return attemptKey{a.ExecutionID, a.Entry, a.Attempt} }

// notifyChannel carries the attempt keys whose rows changed, sent in the
// transaction that changes them.
const notifyChannel = "vpt_attempts"

func notify(ctx context.Context, tx pgx.Tx, k attemptKey) error {
	b, _ := json.Marshal(k)
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, string(b))
	return err
}

// attemptWorker runs the attempts an agent fetched.
type attemptWorker struct {
	river.WorkerDefaults[attemptArgs]
	a *Agent
}

// Timeout: none from River; the run has its own (and the campaign's
// deadline).
func (w *attemptWorker) Timeout(*river.Job[attemptArgs]) time.Duration { return -1 }

// Work takes a free device the job may run on, or sends the job back to
// its queue (JobSnooze uses no attempt) for this agent or another; then
// records the attempt, runs it as `vpt run` would, and records its end.
func (w *attemptWorker) Work(ctx context.Context, job *river.Job[attemptArgs]) error {
	a, args := w.a, job.Args
	sel, err := campaign.ParseSelector(args.Selector)
	if err != nil || args.Protocol != Protocol {
		a.finishUnstarted(job, store.StatusError, fmt.Sprintf("agent %s cannot read this job (protocol %d, selector %q): run the same vpt version on every host",
			a.cfg.Name, args.Protocol, args.Selector), true)
		return nil
	}
	// A job for one device waits for it here (no other agent could take
	// it); any other goes back to its queue at once when no device of this
	// agent is free, for an agent that has one.
	wait := time.Duration(0)
	if sel.Pinned() {
		wait = pinnedWait
	}
	sl, got := a.slots.acquire(ctx, func(s *slot) bool { return matches(sel, a.cfg.Name, s.info) && suits(s.info, args.UserInterface) }, wait)
	if got != acquired {
		if ctx.Err() != nil && !a.stopping.Load() {
			a.finishUnstarted(job, store.StatusInterrupted, "cancelled before it started", false)
			return nil
		}
		if got == noDevice {
			// Another agent's device may serve it; give them time to take it.
			return river.JobSnooze(4 * snooze)
		}
		return river.JobSnooze(snooze)
	}
	defer a.slots.release(sl)
	if ctx.Err() != nil {
		if a.stopping.Load() {
			return river.JobSnooze(0)
		}
		a.finishUnstarted(job, store.StatusInterrupted, "cancelled before it started", false)
		return nil
	}
	if a.stillFenced(ctx) {
		// The attempt waits for the store, as the agent does: it is not
		// started, so it uses none of the entry's tries.
		return river.JobSnooze(snooze)
	}
	if started, err := a.startAttempt(ctx, job, sl); err != nil || !started {
		if err != nil {
			a.cfg.Log.Warn("recording an attempt", "err", err)
			return river.JobSnooze(snooze)
		}
		return nil // it ran already (a resubmitted job)
	}
	if busy := a.run(ctx, job, sl); busy {
		return river.JobSnooze(4 * snooze)
	}
	return nil
}

// startAttempt writes the attempt's row before anything runs: started is
// false when the attempt has a row already (it ran, or runs, elsewhere).
func (a *Agent) startAttempt(ctx context.Context, job *river.Job[attemptArgs], sl *slot) (bool, error) {
	k := job.Args.key()
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	tag, err := tx.Exec(ctx, `INSERT INTO vpt_attempts (execution_id, entry_index, attempt, job_id, agent, device_id, state, started_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'running', now()) ON CONFLICT DO NOTHING`,
		k.Exec, k.Entry, k.Attempt, job.ID, a.cfg.Name, sl.info.ID)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if err := a.deviceTx(ctx, tx, sl.info.ID, DeviceBusy, "", "", job.Args.Script); err != nil {
		return false, err
	}
	if err := notify(ctx, tx, k); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// deviceTx records a device's state inside a transaction of the attempt.
func (a *Agent) deviceTx(ctx context.Context, tx pgx.Tx, id, state, reason, resultID, script string) error {
	_, err := tx.Exec(ctx, `UPDATE vpt_agent_devices SET state = $3, reason = $4, result_id = $5, script_name = $6, updated_at = now()
		WHERE agent = $1 AND device_id = $2`, a.cfg.Name, id, state, reason, resultID, script)
	return err
}

// run makes the run and records how it ended. busy: the device was held
// by someone else on this host (a local vpt run); the attempt is undone
// and the job goes back to its queue.
func (a *Agent) run(ctx context.Context, job *river.Job[attemptArgs], sl *slot) (busy bool) {
	args, k := job.Args, job.Args.key()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	a.mu.Lock()
	a.running[job.ID] = cancel
	fenced := a.fenced
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.running, job.ID)
		a.mu.Unlock()
	}()
	if fenced {
		cancel(errFenced)
	}
	req, err := a.request(args, sl)
	if err != nil {
		a.finish(k, job.ID, sl, outcome{status: store.StatusError, err: err.Error(), infra: true})
		return false
	}
	req.Started = func(res *store.Result) { a.started(k, sl, res) }
	res, err := a.cfg.Runner.Run(runCtx, req)
	if res == nil && errors.Is(err, capture.ErrDeviceBusy) {
		a.undo(k, sl.info.ID)
		return true
	}
	o := a.judge(runCtx, res, err)
	if errors.Is(err, executor.ErrDevice) {
		a.deviceDown(sl, firstLine(err.Error()))
	}
	if o.infra && a.stopping.Load() && res != nil && res.Status == store.StatusInterrupted {
		// The run's row says why it stopped: the agent's doing, not a
		// person's.
		res.ErrorMsg = "interrupted: " + o.err
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.cfg.Store.UpdateResult(uctx, res); err != nil {
			a.cfg.Log.Warn("recording why a run stopped", "run", res.ID, "err", err)
		}
		cancel()
	}
	a.finish(k, job.ID, sl, o)
	a.report(args, sl, res, o)
	return false
}

// request is the run an attempt makes here: the script as this host has
// it, which must be the coordinator's.
func (a *Agent) request(args attemptArgs, sl *slot) (executor.Request, error) {
	script, err := a.cfg.Resolver.Resolve(args.Script)
	if err != nil {
		return executor.Request{}, fmt.Errorf("script %s is not in the scripts folder of agent %s: %w", args.Script, a.cfg.Name, err)
	}
	if args.ScriptSHA256 != "" {
		if sum, err := fileSHA256(script.Path); err != nil || sum != args.ScriptSHA256 {
			return executor.Request{}, fmt.Errorf("script %s on agent %s (%s) differs from the coordinator's: deploy the same scripts on every host",
				args.Script, a.cfg.Name, script.Path)
		}
	}
	if args.UserInterface != "" {
		if _, err := a.cfg.Runner.UIs.Find(args.UserInterface); err != nil {
			return executor.Request{}, fmt.Errorf("agent %s: %w", a.cfg.Name, err)
		}
	}
	return executor.Request{Script: script, Args: args.Args, DeviceID: sl.cfg.ID, UserInterface: args.UserInterface,
		Timeout: time.Duration(args.TimeoutMs) * time.Millisecond, Deadline: args.Deadline, CampaignID: args.ExecutionID,
		Entry: args.Entry, Attempt: args.Attempt, WholeLines: true, NoWait: true, Quiet: a.cfg.Runner.Terminal == nil,
		// An agent always expects another run: its supervisor starts ahead.
		Prefix: fmt.Sprintf("[%s %s] ", sl.cfg.ID, script.Name)}, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// outcome is how an attempt ended, as its row records it.
type outcome struct {
	status   store.Status
	resultID string
	runDir   string
	err      string
	// infra: not the script's doing (device, host, agent): the entry goes
	// to another device without using a retry.
	infra bool
}

// judge reads the run's end: its result, or why it did not run; whether
// the agent's own stop or fence ended it.
func (a *Agent) judge(runCtx context.Context, res *store.Result, err error) outcome {
	var o outcome
	if res != nil {
		o.status, o.resultID, o.runDir, o.err = res.Status, res.ID, res.RunDir, res.ErrorMsg
	} else {
		o.status, o.err = store.StatusError, fmt.Sprintf("agent %s: %v", a.cfg.Name, err)
		if errors.Is(err, executor.ErrDeadline) {
			o.status = store.StatusNotRun
		}
	}
	o.infra = errors.Is(err, executor.ErrDevice) || errors.Is(err, executor.ErrResultsDir) || errors.Is(err, store.ErrUnavailable) ||
		res == nil && (errors.Is(err, capture.ErrUnknownDevice) || errors.Is(err, capture.ErrBadDeviceConfig) ||
			errors.Is(err, executor.ErrInterpreterMissing) || errors.Is(err, executor.ErrPythonTooOld) || errors.Is(err, executor.ErrPythonLib))
	if runCtx.Err() == nil {
		return o
	}
	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errFenced):
		o.infra, o.err = true, fmt.Sprintf("agent %s stopped the run: %v (fencing)", a.cfg.Name, cause)
	case a.stopping.Load() && !errors.Is(cause, river.ErrJobCancelledRemotely):
		o.infra, o.err = true, fmt.Sprintf("agent %s stopped (SIGTERM) before the run ended", a.cfg.Name)
	case res == nil:
		o.status, o.err = store.StatusInterrupted, "cancelled before it started"
	}
	return o
}

// started links the run to its attempt as soon as its row exists.
func (a *Agent) started(k attemptKey, sl *slot, res *store.Result) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE vpt_attempts SET result_id = $4, run_dir = $5
			WHERE execution_id = $1 AND entry_index = $2 AND attempt = $3 AND state = 'running'`,
			k.Exec, k.Entry, k.Attempt, res.ID, res.RunDir); err != nil {
			return err
		}
		if err := a.deviceTx(ctx, tx, sl.info.ID, DeviceBusy, "", res.ID, res.ScriptName); err != nil {
			return err
		}
		return notify(ctx, tx, k)
	})
	if err != nil {
		a.cfg.Log.Warn("linking a run to its attempt", "run", res.ID, "err", err)
	}
}

// finish records the attempt's end (and its device idle again) and
// notifies its coordinator in one transaction, retrying while the store is
// away (bounded). An attempt the reaper finished meanwhile (this agent was
// taken for dead) keeps the reaper's verdict.
func (a *Agent) finish(k attemptKey, jobID int64, sl *slot, o outcome) {
	a.slots.mu.Lock()
	state, reason := DeviceIdle, sl.down
	a.slots.mu.Unlock()
	if reason != "" {
		state = DeviceDown
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE vpt_attempts SET state = 'done', status = $5, result_id = CASE WHEN $6 = '' THEN result_id ELSE $6 END,
				run_dir = CASE WHEN $7 = '' THEN run_dir ELSE $7 END, error = $8, infra = $9, finished_at = now()
				WHERE execution_id = $1 AND entry_index = $2 AND attempt = $3 AND job_id = $4 AND state = 'running'`,
				k.Exec, k.Entry, k.Attempt, jobID, string(o.status), o.resultID, o.runDir, o.err, o.infra)
			if err != nil {
				return err
			}
			if err := a.deviceTx(ctx, tx, sl.info.ID, state, reason, "", ""); err != nil || tag.RowsAffected() == 0 {
				return err
			}
			return notify(ctx, tx, k)
		})
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			a.cfg.Log.Error("recording the end of an attempt", "execution", k.Exec, "entry", k.Entry, "attempt", k.Attempt, "err", err)
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// finishUnstarted records an attempt that ends before it ran.
func (a *Agent) finishUnstarted(job *river.Job[attemptArgs], status store.Status, why string, infra bool) {
	k := job.Args.key()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO vpt_attempts (execution_id, entry_index, attempt, job_id, agent, device_id, state,
			status, error, infra, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, '', 'done', $6, $7, $8, now(), now())
			ON CONFLICT DO NOTHING`, k.Exec, k.Entry, k.Attempt, job.ID, a.cfg.Name, string(status), why, infra)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return notify(ctx, tx, k)
	})
	if err != nil {
		a.cfg.Log.Warn("recording an attempt that did not run", "err", err)
	}
}

// undo removes the row of an attempt that could not take its device.
func (a *Agent) undo(k attemptKey, device string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = a.pool.Exec(ctx, `DELETE FROM vpt_attempts WHERE execution_id = $1 AND entry_index = $2 AND attempt = $3 AND state = 'running'`,
		k.Exec, k.Entry, k.Attempt)
	a.setDevice(device, DeviceIdle, "", "", "")
}

// report prints one line per attempt for the agent's log.
func (a *Agent) report(args attemptArgs, sl *slot, res *store.Result, o outcome) {
	msg := fmt.Sprintf("%s %s on %s for %s (entry %d, attempt %d)", o.status, args.Script, sl.info.ID, args.ExecutionID, args.Entry+1, args.Attempt)
	if res != nil {
		msg += fmt.Sprintf(" in %dms, run %s", res.ExecutionTimeMs, res.ID)
	}
	if o.err != "" && o.status != store.StatusPassed {
		msg += ": " + firstLine(o.err)
	}
	a.cfg.Notice("%s", msg)
}
