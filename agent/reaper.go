package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vpt-dev/vpt/store"
)

// The reaper finds agents whose heartbeat stopped (kill -9, power loss, a
// host cut off from the network) and gives their work back: each running
// attempt is finished as abandoned with the reason, its run's row too, and
// its River job is cancelled so that it never runs again (River would
// otherwise rescue and retry a stuck job after RescueStuckJobsAfter); the
// coordinators waiting on those attempts send their entries to other
// devices. It runs as a River periodic job, which only the elected leader
// enqueues, and in coordinators, so that a lab whose every agent died
// still ends its campaigns. Concurrent reapers are safe: each dead agent
// is locked by one (SKIP LOCKED).

// reapArgs is the periodic job.
type reapArgs struct{}

func (reapArgs) Kind() string { return "vpt_reap" }

type reapWorker struct {
	river.WorkerDefaults[reapArgs]
	a *Agent
}

func (w *reapWorker) Work(ctx context.Context, _ *river.Job[reapArgs]) error {
	_, err := reap(ctx, w.a.reaper())
	return err
}

// reaperDeps is what reaping needs.
type reaperDeps struct {
	pool   *pgxpool.Pool
	river  *river.Client[pgx.Tx]
	store  store.Store
	log    *slog.Logger
	events func(Event)
}

func (a *Agent) reaper() reaperDeps {
	return reaperDeps{pool: a.pool, river: a.river, store: a.cfg.Store, log: a.cfg.Log, events: a.cfg.Events}
}

// reaped is an attempt taken back from a dead agent.
type reaped struct {
	key      attemptKey
	jobID    int64
	resultID string
	reason   string
}

// reap takes the work of dead agents back; it returns the agents it found
// dead.
func reap(ctx context.Context, d reaperDeps) ([]string, error) {
	var dead []string
	var back []reaped
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		dead, back = nil, nil
		rows, err := tx.Query(ctx, `SELECT name, river_client_id, EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 FROM vpt_agents
			WHERE state IN ('running', 'draining') AND heartbeat_at < now() - make_interval(secs => $1) FOR UPDATE SKIP LOCKED`,
			DeadAfter.Seconds())
		if err != nil {
			return err
		}
		type agentRow struct {
			name, client string
			age          float64
		}
		var agents []agentRow
		for rows.Next() {
			var r agentRow
			if err := rows.Scan(&r.name, &r.client, &r.age); err != nil {
				rows.Close()
				return err
			}
			agents = append(agents, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range agents {
			reason := fmt.Sprintf("agent %s stopped heartbeating (last heard of %.0fs ago: dead, or cut off from the store); "+
				"the run was abandoned", r.name, r.age)
			got, err := reapAgent(ctx, tx, d, r.name, r.client, reason)
			if err != nil {
				return err
			}
			dead = append(dead, r.name)
			back = append(back, got...)
		}
		// The runs' rows are abandoned before the attempts' notification
		// goes out (at commit), so that their coordinators read them so.
		for _, r := range back {
			abandonRun(ctx, d, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: reaping dead agents: %w", store.ErrUnavailable, err)
	}
	for _, r := range back {
		if _, err := d.river.JobCancel(ctx, r.jobID); err != nil {
			d.log.Warn("cancelling an abandoned job", "job", r.jobID, "err", err)
		}
	}
	for _, name := range dead {
		d.log.Warn("agent dead", "agent", name, "attempts taken back", len(back))
		if d.events != nil {
			d.events(Event{Kind: "agent.down", Agent: name, Reason: "no heartbeat", At: time.Now().UTC()})
		}
	}
	return dead, nil
}

// reapAgent marks one dead agent, its devices and its attempts, inside the
// reaper's transaction; jobs it had fetched but not begun get a row too.
func reapAgent(ctx context.Context, tx pgx.Tx, d reaperDeps, name, client, reason string) ([]reaped, error) {
	if _, err := tx.Exec(ctx, "UPDATE vpt_agents SET state = 'dead', reason = $2 WHERE name = $1", name,
		fmt.Sprintf("no heartbeat since %s", time.Now().UTC().Add(-DeadAfter).Format(time.RFC3339))); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE vpt_agent_devices SET state = 'down', reason = 'its agent is dead', result_id = '', script_name = ''
		WHERE agent = $1`, name); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `UPDATE vpt_attempts SET state = 'done', status = 'abandoned', infra = true, error = $2, finished_at = now()
		WHERE agent = $1 AND state = 'running' RETURNING execution_id, entry_index, attempt, job_id, result_id`, name, reason)
	if err != nil {
		return nil, err
	}
	var out []reaped
	seen := map[int64]bool{}
	for rows.Next() {
		r := reaped{reason: reason}
		if err := rows.Scan(&r.key.Exec, &r.key.Entry, &r.key.Attempt, &r.jobID, &r.resultID); err != nil {
			rows.Close()
			return nil, err
		}
		seen[r.jobID] = true
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if client != "" {
		jobs, err := d.river.JobListTx(ctx, tx, river.NewJobListParams().Kinds(attemptArgs{}.Kind()).States(rivertype.JobStateRunning).
			Where("attempted_by[array_length(attempted_by, 1)] = @client", river.NamedArgs{"client": client}).First(10000))
		if err != nil {
			return nil, err
		}
		for _, j := range jobs.Jobs {
			if seen[j.ID] {
				continue
			}
			var args attemptArgs
			if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
				continue
			}
			why := fmt.Sprintf("agent %s took the job and stopped heartbeating before it began", name)
			if _, err := tx.Exec(ctx, `INSERT INTO vpt_attempts (execution_id, entry_index, attempt, job_id, agent, device_id, state,
				status, error, infra, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, '', 'done', 'error', $6, true, now(), now())
				ON CONFLICT DO NOTHING`, args.ExecutionID, args.Entry, args.Attempt, j.ID, name, why); err != nil {
				return nil, err
			}
			out = append(out, reaped{key: args.key(), jobID: j.ID, reason: why})
		}
	}
	for _, r := range out {
		if err := notify(ctx, tx, r.key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// abandonRun records the run of a reaped attempt as abandoned, if it is
// still running.
func abandonRun(ctx context.Context, d reaperDeps, r reaped) {
	if r.resultID != "" && d.store != nil {
		if res, err := d.store.GetResult(ctx, r.resultID); err == nil && !res.Status.Final() {
			now := time.Now().UTC()
			res.Status, res.Success, res.ErrorMsg, res.CompletedAt = store.StatusAbandoned, false, r.reason, &now
			res.ExecutionTimeMs = now.Sub(res.StartedAt).Milliseconds()
			if _, err := d.store.FinishResult(ctx, res); err != nil {
				d.log.Warn("marking an abandoned run", "run", res.ID, "err", err)
			}
		}
	}
}
