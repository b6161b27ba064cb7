// Package agent is vpt's lab: `vpt agent` on each lab host serves that
// host's devices to distributed campaigns, and a coordinator (`vpt campaign
// --distributed`) places a campaign's attempts on them. Both meet in the
// lab's shared PostgreSQL: River (a job queue on PostgreSQL) carries one job
// per attempt, and vpt's own tables (004_agents.sql) record the agents,
// their devices and every attempt they take. River's types stay inside
// this package.
//
// Contract:
//   - An attempt (campaign execution, entry, attempt number) runs at most
//     once: its River job is unique by those three, it has one attempt in
//     River, and the vpt_attempts row an agent writes before it starts the
//     script is keyed by them too.
//   - An agent heartbeats every HeartbeatEvery. One that loses the store
//     for FenceAfter stops its own scripts (fencing); one whose heartbeat is
//     older than DeadAfter is dead for the lab: the reaper (a River periodic
//     job, run by the elected leader, and by coordinators as a fallback)
//     marks its running attempts abandoned with why, cancels their jobs, and
//     their coordinators send the entries to other devices.
//   - The coordinator learns results from a NOTIFY sent in the transaction
//     that records them, with a poll as the fallback, since River tells a
//     client only of the jobs it worked itself.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/capture"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres"
)

// Protocol is the version of the job arguments that agents and
// coordinators exchange; both must have the same.
const Protocol = 1

// Timing of the lab. A dead agent's work goes elsewhere within DeadAfter
// plus ReapEvery plus a fetch: about 26 s.
const (
	HeartbeatEvery = 2 * time.Second
	// FenceAfter without a heartbeat that reached the store, an agent
	// stops its scripts: the lab will soon take it for dead and run their
	// entries elsewhere. It is well under DeadAfter.
	FenceAfter = 10 * time.Second
	DeadAfter  = 20 * time.Second
	ReapEvery  = 5 * time.Second
	// deviceRecheck is how often an agent checks its devices: those that
	// are down, for coming back, and the idle ones.
	deviceRecheck = 30 * time.Second
	// snooze: a job no free device of this agent can take goes back to its
	// queue for this long (River: without using an attempt), and agents
	// look at their queues that often (besides River's notification of a
	// new job), so that another agent takes it.
	snooze     = 250 * time.Millisecond
	pinnedWait = 24 * time.Hour
)

// Event is something the lab did, for an event stream.
type Event struct {
	// Kind: agent.up, agent.down (stopped, or found dead by the reaper),
	// device.down, device.idle (a device that was down answers again): the
	// names of the store's event types.
	Kind   string
	Agent  string
	Device string
	Reason string
	At     time.Time
}

// Config configures an agent.
type Config struct {
	Name    string
	URL     string // the lab's PostgreSQL
	Version string
	// Store is the results store (the same database); Runner runs the
	// scripts, as `vpt run` does, with its own device registry.
	Store    store.Store
	Runner   *executor.Runner
	Resolver executor.Resolver
	// Devices are the devices served (vpt.yaml's).
	Devices []capture.DeviceConfig
	// Drain is how long running scripts may go on after SIGTERM before
	// they are interrupted.
	Drain time.Duration
	// Kill closes on the second SIGTERM: stop at once.
	Kill   <-chan struct{}
	Log    *slog.Logger
	Notice func(format string, args ...any)
	Events func(Event)
}

// Agent serves a host's devices to the lab.
type Agent struct {
	cfg      Config
	pool     *pgxpool.Pool
	river    *river.Client[pgx.Tx]
	owner    string
	clientID string
	slots    slots

	mu       sync.Mutex
	running  map[int64]context.CancelCauseFunc
	queues   map[string]int // River queues added, with their workers
	lastOK   time.Time
	fenced   bool
	state    string
	stopping atomic.Bool
}

// Errors that end a run for the agent's own reasons (context causes).
var (
	errFenced   = errors.New("the agent lost the results store")
	errStopping = errors.New("the agent stopped")
)

// New prepares an agent; Run starts it.
func New(cfg Config) *Agent {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Notice == nil {
		cfg.Notice = func(string, ...any) {}
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Agent{cfg: cfg, owner: store.ThisProcess().String(), clientID: cfg.Name + "-" + hex.EncodeToString(b[:]),
		running: map[int64]context.CancelCauseFunc{}, queues: map[string]int{}, state: StateRunning}
}

// Run registers the agent and serves jobs until ctx ends (SIGTERM), then
// drains: no new job, the running ones finish within Drain or are
// interrupted, and the agent deregisters.
func (a *Agent) Run(ctx context.Context) error {
	if err := CheckURL(a.cfg.URL, "vpt agent"); err != nil {
		return err
	}
	if !validName(a.cfg.Name) {
		return fmt.Errorf("%w: agent name %q: use letters, digits, '.', '-' or '_'", ErrNameTaken, a.cfg.Name)
	}
	pool, err := openPool(ctx, a.cfg.URL, 12)
	if err != nil {
		return err
	}
	defer pool.Close()
	a.pool = pool
	if err := checkSchema(ctx, pool); err != nil {
		return err
	}
	a.checkDevices(ctx)
	if a.river, err = a.newClient(); err != nil {
		return err
	}
	// A stale row of this name (a previous agent that died) gives its work
	// back before this one takes the name.
	if _, err := reap(ctx, a.reaper()); err != nil {
		a.cfg.Log.Warn("reaping dead agents", "err", err)
	}
	if err := a.register(ctx); err != nil {
		return err
	}
	a.lastOK = time.Now()
	if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
		a.deregister("could not start its job queue")
		return fmt.Errorf("%w: starting the job queue: %w", store.ErrUnavailable, err)
	}
	a.event("agent.up", "", "")
	a.cfg.Notice("agent %s serving %s", a.cfg.Name, a.describe())
	beat, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBeat()
	fatal := make(chan error, 1)
	go a.heartbeat(beat, fatal)
	go a.recheck(beat)
	var cause error
	select {
	case <-ctx.Done():
		cause = context.Cause(ctx)
	case cause = <-fatal:
	}
	a.drain(cause)
	stopBeat()
	a.deregister("stopped: " + firstLine(fmt.Sprint(cause)))
	a.event("agent.down", "", "stopped")
	if errors.Is(cause, context.Canceled) || errors.Is(cause, executor.ErrInterrupted) {
		return nil
	}
	return cause
}

func validName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// checkDevices opens and checks every device at once: those that do not
// answer start down (and are checked again every deviceRecheck).
func (a *Agent) checkDevices(ctx context.Context) {
	a.slots.list = nil
	for _, c := range a.cfg.Devices {
		sl := &slot{cfg: c, info: DeviceInfo{ID: c.ID, Name: c.Name, Model: c.Model, UserInterface: c.UserInterface,
			Tags: append([]string{}, c.Tags...), Capabilities: []string{}}}
		a.slots.list = append(a.slots.list, sl)
	}
	var wg sync.WaitGroup
	for _, sl := range a.slots.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := a.check(ctx, sl.cfg.ID)
			if err != nil {
				sl.down = firstLine(err.Error())
				return
			}
			sl.info.Capabilities = info.Capabilities
		}()
	}
	wg.Wait()
}

func (a *Agent) check(ctx context.Context, id string) (capture.Info, error) {
	dev, err := a.cfg.Runner.Devices.Open(id)
	if err != nil {
		return capture.Info{}, err
	}
	defer dev.Close()
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return dev.Info(), dev.Check(cctx)
}

// plannedQueues is every queue the devices answer to, with as many
// workers as devices answer to it; down devices count for none (their own
// queue is left out).
func (a *Agent) plannedQueues() map[string]int {
	q := map[string]int{queueReaper: 1}
	for _, sl := range a.slots.snapshot() {
		if sl.down != "" {
			continue
		}
		for _, name := range deviceQueues(a.cfg.Name, sl.info) {
			q[name]++
		}
	}
	return q
}

func deviceQueues(agent string, d DeviceInfo) []string {
	qs := []string{queueAuto, queueFor(campaign.Selector{Kind: campaign.SelectModel, Value: d.Model}),
		queueFor(campaign.Selector{Kind: campaign.SelectDevice, Agent: agent, Value: d.ID})}
	for _, t := range d.Tags {
		qs = append(qs, queueFor(campaign.Selector{Kind: campaign.SelectTag, Value: t}))
	}
	return qs
}

func (a *Agent) newClient() (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &attemptWorker{a: a})
	river.AddWorker(workers, &reapWorker{a: a})
	queues := map[string]river.QueueConfig{}
	for name, n := range a.plannedQueues() {
		queues[name] = queueConfig(name, n)
		a.queues[name] = n
	}
	return river.NewClient(riverpgxv5.New(a.pool), &river.Config{
		ID:      a.clientID,
		Queues:  queues,
		Workers: workers,
		// Scripts have their own timeouts; a dead host is found by the
		// heartbeat, never by River's rescuer (whose retry would run a job
		// twice; jobs have one attempt anyway).
		JobTimeout:           -1,
		RescueStuckJobsAfter: 7 * 24 * time.Hour,
		MaxAttempts:          1,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    time.Second,
		Logger:               a.cfg.Log,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(ReapEvery),
			func() (river.JobArgs, *river.InsertOpts) {
				return reapArgs{}, &river.InsertOpts{Queue: queueReaper, UniqueOpts: river.UniqueOpts{ByPeriod: ReapEvery}}
			}, &river.PeriodicJobOpts{ID: "vpt-reaper", RunOnStart: true})},
	})
}

// queueConfig: the queues of several devices are looked at every snooze,
// for the jobs other agents sent back; a device's own queue and the
// reaper's rely on River's notifications (and its 1 s poll).
func queueConfig(name string, workers int) river.QueueConfig {
	c := river.QueueConfig{MaxWorkers: workers}
	if name != queueReaper && !strings.HasPrefix(name, "vpt-device-") {
		c.FetchPollInterval = snooze
	}
	return c
}

// advertised is the queues the agent serves now, for coordinators: those
// of its healthy devices.
func (a *Agent) advertised() []string {
	var out []string
	for name := range a.plannedQueues() {
		if name != queueReaper {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (a *Agent) describe() string {
	var parts []string
	for _, sl := range a.slots.snapshot() {
		s := sl.info.ID + " (" + sl.info.Model
		if len(sl.info.Tags) > 0 {
			s += ", tags " + strings.Join(sl.info.Tags, ",")
		}
		s += ")"
		if sl.down != "" {
			s += " down: " + sl.down
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// register takes the agent's name, unless a live agent has it, and
// records its devices.
func (a *Agent) register(ctx context.Context) error {
	queues, _ := json.Marshal(a.advertised())
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var name string
	err = tx.QueryRow(ctx, `INSERT INTO vpt_agents (name, host_name, owner, river_client_id, version, schema_version, protocol,
		results_dir, queues, state, reason, started_at, heartbeat_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', '', now(), now())
		ON CONFLICT (name) DO UPDATE SET host_name = excluded.host_name, owner = excluded.owner,
		river_client_id = excluded.river_client_id, version = excluded.version, schema_version = excluded.schema_version,
		protocol = excluded.protocol, results_dir = excluded.results_dir, queues = excluded.queues, state = 'running',
		reason = '', started_at = now(), heartbeat_at = now()
		WHERE vpt_agents.state IN ('stopped', 'dead') OR vpt_agents.heartbeat_at < now() - make_interval(secs => $10)
		RETURNING name`,
		a.cfg.Name, a.cfg.Runner.Settings.HostName, a.owner, a.clientID, a.cfg.Version, postgres.SchemaVersion(), Protocol,
		a.cfg.Runner.Settings.ResultsDir, string(queues), DeadAfter.Seconds()).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		var host, owner string
		var age float64
		_ = tx.QueryRow(ctx, `SELECT host_name, owner, EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 FROM vpt_agents WHERE name = $1`,
			a.cfg.Name).Scan(&host, &owner, &age)
		pid := ""
		if p, ok := store.ParseProcess(owner); ok {
			pid = fmt.Sprintf(", pid %d", p.PID)
		}
		return fmt.Errorf("%w: a live agent named %s runs on %s%s (last heartbeat %.0fs ago); give this one another --name, or stop that one",
			ErrNameTaken, a.cfg.Name, host, pid, age)
	}
	if err != nil {
		return fmt.Errorf("%w: registering agent %s: %w", store.ErrUnavailable, a.cfg.Name, err)
	}
	if err := a.writeDevices(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%w: registering agent %s: %w", store.ErrUnavailable, a.cfg.Name, err)
	}
	return nil
}

// writeDevices replaces the agent's device rows with its devices now.
func (a *Agent) writeDevices(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, "DELETE FROM vpt_agent_devices WHERE agent = $1", a.cfg.Name); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	for _, sl := range a.slots.snapshot() {
		caps, _ := json.Marshal(sl.info.Capabilities)
		tags, _ := json.Marshal(sl.info.Tags)
		state := DeviceIdle
		if sl.down != "" {
			state = DeviceDown
		} else if sl.busy {
			state = DeviceBusy
		}
		if _, err := tx.Exec(ctx, `INSERT INTO vpt_agent_devices (agent, device_id, name, model, userinterface, capabilities,
			tags, state, reason, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())`,
			a.cfg.Name, sl.info.ID, sl.info.Name, sl.info.Model, sl.info.UserInterface, string(caps), string(tags), state, sl.down); err != nil {
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return nil
}

// setDevice records a device's state (best effort: the next heartbeat
// after an outage rewrites every device).
func (a *Agent) setDevice(id, state, reason, resultID, script string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.pool.Exec(ctx, `UPDATE vpt_agent_devices SET state = $3, reason = $4, result_id = $5, script_name = $6,
		updated_at = now() WHERE agent = $1 AND device_id = $2`, a.cfg.Name, id, state, reason, resultID, script); err != nil {
		a.cfg.Log.Warn("recording a device's state", "device", id, "err", err)
	}
}

// heartbeat tells the lab the agent lives, and fences it when the store
// has not heard from it for FenceAfter. A row taken by another agent (this
// one was dead for the lab, and its name given away) ends the agent.
func (a *Agent) heartbeat(ctx context.Context, fatal chan<- error) {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		revived, err := a.beat(ctx)
		a.mu.Lock()
		switch {
		case err == nil:
			a.mu.Unlock()
			a.reached(ctx, revived)
			continue
		case errors.Is(err, pgx.ErrNoRows):
			a.mu.Unlock()
			fatal <- fmt.Errorf("%w: another agent took the name %s while this one was cut off from the store", ErrNameTaken, a.cfg.Name)
			return
		}
		lost := time.Since(a.lastOK)
		fence := !a.fenced && lost > FenceAfter
		if fence {
			a.fenced = true
		}
		a.mu.Unlock()
		a.cfg.Log.Warn("agent heartbeat", "err", err, "store lost for", lost.Round(time.Second))
		if fence {
			a.fence(lost)
		}
	}
}

// reached records a heartbeat the store took: the fence, if any, is
// lifted.
func (a *Agent) reached(ctx context.Context, revived bool) {
	a.mu.Lock()
	a.lastOK = time.Now()
	wasFenced := a.fenced
	a.fenced = false
	a.mu.Unlock()
	if wasFenced || revived {
		a.cfg.Notice("agent %s reaches the store again; taking jobs", a.cfg.Name)
		a.resync(ctx)
	}
}

// stillFenced tells whether the agent is fenced, trying the store once
// more when it is: River fetches jobs the moment the store answers again,
// up to a heartbeat before the next beat would lift the fence.
func (a *Agent) stillFenced(ctx context.Context) bool {
	a.mu.Lock()
	fenced := a.fenced
	a.mu.Unlock()
	if !fenced {
		return false
	}
	revived, err := a.beat(ctx)
	if err != nil {
		return true
	}
	a.reached(ctx, revived)
	return false
}

// beat writes one heartbeat; revived: the lab had taken the agent for dead.
func (a *Agent) beat(ctx context.Context) (revived bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, HeartbeatEvery)
	defer cancel()
	a.mu.Lock()
	state := a.state
	a.mu.Unlock()
	var old string
	err = a.pool.QueryRow(ctx, `WITH old AS (SELECT state FROM vpt_agents WHERE name = $1 AND owner = $2)
		UPDATE vpt_agents SET heartbeat_at = now(), state = $3, reason = '' WHERE name = $1 AND owner = $2
		RETURNING (SELECT state FROM old)`, a.cfg.Name, a.owner, state).Scan(&old)
	return old == StateDead, err
}

// fence stops every running script: the lab is about to run their entries
// elsewhere, and their results could not be recorded anyway.
func (a *Agent) fence(lost time.Duration) {
	a.mu.Lock()
	n := len(a.running)
	for _, cancel := range a.running {
		cancel(fmt.Errorf("%w for %s", errFenced, lost.Round(time.Second)))
	}
	a.mu.Unlock()
	a.cfg.Notice("agent %s cannot reach the store for %s: it stops its %d running script(s) (fencing); the lab runs them elsewhere",
		a.cfg.Name, lost.Round(time.Second), n)
}

// resync rewrites the agent's row and devices after an outage (the reaper
// may have marked them dead and down).
func (a *Agent) resync(ctx context.Context) {
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	queues, _ := json.Marshal(a.advertised())
	if _, err := tx.Exec(ctx, "UPDATE vpt_agents SET queues = $2 WHERE name = $1 AND owner = $3", a.cfg.Name, string(queues), a.owner); err != nil {
		return
	}
	if a.writeDevices(ctx, tx) == nil {
		_ = tx.Commit(ctx)
	}
}

// recheck checks the devices every deviceRecheck: one that went down is
// brought back when it answers again, and an idle one that stopped
// answering is taken out before a job finds it so (see checkIdle).
func (a *Agent) recheck(ctx context.Context) {
	t := time.NewTicker(deviceRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, sl := range a.slots.list {
			a.slots.mu.Lock()
			down, busy := sl.down, sl.busy
			a.slots.mu.Unlock()
			switch {
			case down == "":
				wg.Go(func() { a.checkIdle(ctx, sl) })
				continue
			case busy:
				continue // the run it failed is still ending
			}
			wg.Go(func() {
				if _, err := a.check(ctx, sl.cfg.ID); err == nil {
					a.deviceUp(ctx, sl)
				}
			})
		}
		wg.Wait()
	}
}

// checkIdle checks a healthy device that no job holds or waits for, and
// takes it out when it does not answer. It holds the device meanwhile, in
// the agent (no job starts on it) and on the machine (its lock: a local
// run's device is not opened beside it, and is left alone).
func (a *Agent) checkIdle(ctx context.Context, sl *slot) {
	if !a.slots.holdIdle(sl) {
		return
	}
	defer a.slots.release(sl)
	lock, err := a.cfg.Runner.Devices.Lock(ctx, sl.cfg, false, "agent "+a.cfg.Name+": checking the device", nil)
	if err != nil {
		return // in use on this machine: not idle
	}
	_, err = a.check(ctx, sl.cfg.ID)
	lock.Release()
	if err != nil && ctx.Err() == nil {
		a.deviceDown(sl, "stopped answering while idle: "+firstLine(err.Error()))
	}
}

// deviceDown takes a device out after it failed a run.
func (a *Agent) deviceDown(sl *slot, reason string) {
	a.slots.setDown(sl, reason)
	a.setDevice(sl.info.ID, DeviceDown, reason, "", "")
	a.advertise()
	a.event("device.down", sl.info.ID, reason)
	a.cfg.Notice("device %s is down: %s; it takes no job until it answers again", sl.info.ID, reason)
}

func (a *Agent) deviceUp(ctx context.Context, sl *slot) {
	a.slots.setDown(sl, "")
	for name, n := range a.plannedQueues() {
		a.mu.Lock()
		_, have := a.queues[name]
		if !have {
			a.queues[name] = n
		}
		a.mu.Unlock()
		if !have {
			if err := a.river.Queues().Add(name, queueConfig(name, n)); err != nil {
				a.cfg.Log.Warn("adding a queue", "queue", name, "err", err)
			}
		}
	}
	a.setDevice(sl.info.ID, DeviceIdle, "", "", "")
	a.advertise()
	a.event("device.idle", sl.info.ID, "")
	a.cfg.Notice("device %s answers again", sl.info.ID)
}

func (a *Agent) advertise() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	queues, _ := json.Marshal(a.advertised())
	_, _ = a.pool.Exec(ctx, "UPDATE vpt_agents SET queues = $2 WHERE name = $1 AND owner = $3", a.cfg.Name, string(queues), a.owner)
}

// drain stops taking jobs and lets the running ones finish within Drain,
// then interrupts them (a second SIGTERM: at once).
func (a *Agent) drain(cause error) {
	a.mu.Lock()
	a.state = StateDraining
	n := len(a.running)
	a.mu.Unlock()
	a.setState(StateDraining, "draining: "+firstLine(fmt.Sprint(cause)))
	a.cfg.Notice("agent %s draining: no new job; %d running, given up to %s", a.cfg.Name, n, a.cfg.Drain)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Drain)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- a.river.Stop(ctx) }()
	select {
	case err := <-stopped:
		if err == nil {
			return
		}
	case <-a.cfg.Kill:
		cancel()
		<-stopped
	}
	a.stopping.Store(true)
	a.mu.Lock()
	n = len(a.running)
	a.mu.Unlock()
	a.cfg.Notice("agent %s interrupting %d running script(s); their entries go to other devices", a.cfg.Name, n)
	hard, cancelHard := context.WithTimeout(context.Background(), executor.DefaultFinaliseBudget+time.Minute)
	defer cancelHard()
	if err := a.river.StopAndCancel(hard); err != nil {
		a.cfg.Log.Warn("stopping the job queue", "err", err)
	}
}

func (a *Agent) setState(state, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = a.pool.Exec(ctx, "UPDATE vpt_agents SET state = $2, reason = $3 WHERE name = $1 AND owner = $4", a.cfg.Name, state, reason, a.owner)
}

// deregister leaves the lab: the row stays (stopped), the devices down.
func (a *Agent) deregister(reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.setState(StateStopped, reason)
	_, _ = a.pool.Exec(ctx, `UPDATE vpt_agent_devices SET state = 'down', reason = 'agent stopped', result_id = '', script_name = ''
		WHERE agent = $1`, a.cfg.Name)
}

func (a *Agent) event(kind, device, reason string) {
	if a.cfg.Events != nil {
		a.cfg.Events(Event{Kind: kind, Agent: a.cfg.Name, Device: device, Reason: reason, At: time.Now().UTC()})
	}
}

// StoreEvents records the agents' events in the store's event log (for
// `vpt events` and `vpt report serve`); a failure to record one is only
// logged: it never stops an agent.
func StoreEvents(st store.Store, log *slog.Logger) func(Event) {
	return func(e Event) {
		var data any
		switch store.EventType(e.Kind) {
		case store.EventAgentUp, store.EventAgentDown:
			data = store.AgentData{Reason: e.Reason}
		default:
			data = store.DeviceData{Reason: e.Reason}
		}
		ev := store.NewEvent(store.EventType(e.Kind), data)
		ev.At, ev.Agent, ev.DeviceID, ev.HostName = e.At, e.Agent, e.Device, e.Agent
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := st.AppendEvents(ctx, ev); err != nil && log != nil {
			log.Warn("recording an agent event", "kind", e.Kind, "err", err)
		}
	}
}
