package agent

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// hub wakes a coordinator's waiting attempts when their rows change: on
// the NOTIFY an agent sends in the transaction that changes a row, and, as
// the fallback for a lost connection or notification, on a poll every
// second that compares every waited row at once. Every few seconds it
// also reaps dead agents and marks the attempts whose queue no live agent
// serves.
type hub struct {
	c       *Coordinator
	mu      sync.Mutex
	waiters map[attemptKey]*waiter
}

// waiter is one attempt a Run waits on.
type waiter struct {
	key      attemptKey
	queue    string
	since    time.Time
	jobID    atomic.Int64
	unserved atomic.Bool
	poke     chan struct{}
	seen     string // the row's state at the last poll (hub only)
}

func (w *waiter) wake() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

const (
	pollEvery = time.Second
	// unservedAfter: an attempt whose queue no live agent serves for this
	// long fails (pinned to a dead agent's device, say).
	unservedAfter = 10 * time.Second
)

func (c *Coordinator) startHub() *hub {
	c.hubOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		c.stop = cancel
		c.hub = &hub{c: c, waiters: map[attemptKey]*waiter{}}
		go c.hub.listen(ctx)
		go c.hub.poll(ctx)
	})
	return c.hub
}

func (h *hub) add(k attemptKey, queue string) *waiter {
	w := &waiter{key: k, queue: queue, since: time.Now(), poke: make(chan struct{}, 1)}
	h.mu.Lock()
	h.waiters[k] = w
	h.mu.Unlock()
	return w
}

func (h *hub) remove(w *waiter) {
	h.mu.Lock()
	if h.waiters[w.key] == w {
		delete(h.waiters, w.key)
	}
	h.mu.Unlock()
}

// of returns the waiters of one campaign execution.
func (h *hub) of(exec string) []*waiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*waiter
	for k, w := range h.waiters {
		if k.Exec == exec {
			out = append(out, w)
		}
	}
	return out
}

func (h *hub) all() []*waiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*waiter, 0, len(h.waiters))
	for _, w := range h.waiters {
		out = append(out, w)
	}
	return out
}

// listen holds a connection of its own (taken out of the pool) that
// LISTENs; it reconnects after a failure and then wakes every waiter, as
// notifications may have been missed meanwhile.
func (h *hub) listen(ctx context.Context) {
	for ctx.Err() == nil {
		pc, err := h.c.pool.Acquire(ctx)
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		conn := pc.Hijack()
		if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err == nil {
			for _, w := range h.all() {
				w.wake()
			}
			for {
				n, err := conn.WaitForNotification(ctx)
				if err != nil {
					break
				}
				var k attemptKey
				if json.Unmarshal([]byte(n.Payload), &k) != nil {
					continue
				}
				h.mu.Lock()
				w := h.waiters[k]
				h.mu.Unlock()
				if w != nil {
					w.wake()
				}
			}
		}
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(closeCtx)
		cancel()
		sleep(ctx, time.Second)
	}
}

// poll wakes the waiters whose rows changed since the last look, and
// those whose job ended without a row.
func (h *hub) poll(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ws := h.all()
		if len(ws) == 0 {
			continue
		}
		h.compare(ctx, ws)
		if n%int(ReapEvery/pollEvery) == 0 {
			h.c.reapAndCheck(ctx, ws)
		}
	}
}

func (h *hub) compare(ctx context.Context, ws []*waiter) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	execs := map[string]bool{}
	for _, w := range ws {
		execs[w.key.Exec] = true
	}
	var list []string
	for e := range execs {
		list = append(list, e)
	}
	rows, err := h.c.pool.Query(ctx, `SELECT execution_id, entry_index, attempt, state, result_id FROM vpt_attempts
		WHERE execution_id = ANY($1)`, list)
	if err != nil {
		return
	}
	states := map[attemptKey]string{}
	for rows.Next() {
		var k attemptKey
		var state, rid string
		if rows.Scan(&k.Exec, &k.Entry, &k.Attempt, &state, &rid) == nil {
			states[k] = state + ":" + rid
		}
	}
	rows.Close()
	var ids []int64
	byJob := map[int64]*waiter{}
	for _, w := range ws {
		s := states[w.key]
		if s != w.seen {
			w.seen = s
			w.wake()
		}
		if id := w.jobID.Load(); s == "" && id > 0 {
			ids = append(ids, id)
			byJob[id] = w
		}
	}
	if len(ids) == 0 {
		return
	}
	jobs, err := h.c.river.JobList(ctx, river.NewJobListParams().IDs(ids...).First(len(ids)).
		States(rivertype.JobStateCancelled, rivertype.JobStateDiscarded, rivertype.JobStateCompleted))
	if err != nil {
		return
	}
	for _, j := range jobs.Jobs {
		if w := byJob[j.ID]; w != nil {
			w.wake()
		}
	}
}

// reapAndCheck reaps dead agents (the leader's job, done here too so that
// a lab whose agents all died still ends its campaigns) and marks the
// attempts that no live agent can take any more.
func (c *Coordinator) reapAndCheck(ctx context.Context, ws []*waiter) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := reap(ctx, reaperDeps{pool: c.pool, river: c.river, store: c.store, log: c.log, events: c.Events}); err != nil {
		c.log.Debug("reaping", "err", err)
	}
	agents, err := listAgents(ctx, c.pool)
	if err != nil {
		return
	}
	served := map[string]bool{}
	for _, a := range agents {
		if a.Live() && a.Compatible() == nil {
			for _, q := range a.Queues {
				served[q] = true
			}
		}
	}
	for _, w := range ws {
		if w.seen == "" && !served[w.queue] && time.Since(w.since) > unservedAfter && !w.unserved.Load() {
			w.unserved.Store(true)
			w.wake()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
