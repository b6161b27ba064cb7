package campaign

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// Campaign statuses (store.Campaign.Status).
const (
	StatusRunning   = "running"
	StatusCompleted = "completed" // every entry passed (flaky included)
	StatusFailed    = "failed"
	StatusTimeout   = "timeout"
	StatusCancelled = "cancelled"
	// StatusAbandoned: the vpt process running it died; recovery finished
	// its row and reports from what had been recorded.
	StatusAbandoned = "abandoned"
)

// ErrNoDevice: no device of the pool answered.
var ErrNoDevice = errors.New("no device of the pool answers")

// Executor runs one script: executor.Runner, or a fake in tests.
type Executor interface {
	Run(ctx context.Context, req executor.Request) (*store.Result, error)
}

// Store is what a campaign needs of the results store.
type Store interface {
	summary.Source
	CreateCampaign(ctx context.Context, c *store.Campaign, evs ...store.Event) (joined bool, err error)
	UpdateCampaign(ctx context.Context, c *store.Campaign, evs ...store.Event) error
	PutCampaignEntry(ctx context.Context, e store.CampaignEntry, evs ...store.Event) error
	FinishShard(ctx context.Context, campaignID string, shard int, status, host string) ([]store.ShardEnd, error)
	HeartbeatCampaign(ctx context.Context, id, owner string, at time.Time) error
	AppendEvents(ctx context.Context, evs ...store.Event) error
}

// Observer hears what a campaign does, for progress displays.
type Observer interface {
	Started(p *Plan, c *store.Campaign)
	EntryStarted(e *PlannedEntry, attempt int, device string)
	EntryFinished(e *PlannedEntry, end AttemptEnd)
	// DeviceDown: a device failed and leaves this campaign's pool.
	DeviceDown(device, reason string)
	// Waiting: the campaign waits for something (the store) before going on.
	Waiting(reason string)
	Stopping(reason string)
}

// AttemptEnd is how an attempt of an entry ended, and what comes of it.
type AttemptEnd struct {
	Attempt int
	Device  string
	// Result is the run's; nil when it did not start (Err says why).
	Result *store.Result
	Err    error
	// Requeued: its device failed and the entry goes back to the queue
	// for another device, using no retry.
	Requeued bool
	// Final: no attempt of the entry follows; Status is then the entry's
	// (flaky for a pass after a failure).
	Final  bool
	Status store.Status
	// Ran: an attempt was made. An entry the campaign ended without
	// running (it stopped first, or no healthy device was left) ends with
	// Ran false, Final true, and Err saying why.
	Ran bool
}

// Runner runs campaigns with an executor.
type Runner struct {
	Exec     Executor
	Store    Store
	Observer Observer
	Log      *slog.Logger
	// CheckDevice tells whether a device answers (nil: no check). A pool
	// of "device: auto" is checked before anything runs.
	CheckDevice func(ctx context.Context, id string) error
	// ResultsDir holds campaigns/<execution id>/.
	ResultsDir string
	TeamID     string
	HostName   string
	// StoreOutage is how long a campaign waits for an unavailable store
	// before it gives up on an entry (0: DefaultStoreOutage).
	StoreOutage time.Duration
	// Extra is recorded with a new campaign row (store.Campaign.Extra): a
	// distributed campaign keeps there what re-attaching to it needs.
	Extra map[string]any
}

// DefaultStoreOutage bounds the wait for a store that stopped answering.
const DefaultStoreOutage = 2 * time.Minute

// extra is what a new campaign row records in Extra: the runner's own, the
// shards' assignment, the execution a --last-failed execution reruns.
func (r *Runner) extra(plan *Plan) map[string]any {
	if plan.Assignment == nil && plan.Options.RerunOf == "" {
		return r.Extra
	}
	out := maps.Clone(r.Extra)
	if out == nil {
		out = map[string]any{}
	}
	if plan.Assignment != nil {
		out[shardPlanKey] = plan.Assignment
	}
	if plan.Options.RerunOf != "" {
		out[rerunOfKey] = plan.Options.RerunOf
	}
	return out
}

// Outcome is what a campaign execution did.
type Outcome struct {
	Campaign *store.Campaign
	Summary  summary.Summary
	Results  map[string]*store.Result
	// Entries of this shard, with their attempts, in file order.
	Entries []EntryOutcome
	Dir     string // the campaign folder
	// TimedOut: the campaign ran past timeout_minutes; Interrupted: Ctrl-C.
	TimedOut, Interrupted bool
	// DevicesDown: devices taken out of the pool, with why.
	DevicesDown map[string]string
	FailOnFlaky bool
}

// EntryOutcome is one entry's attempts.
type EntryOutcome struct {
	Entry    *PlannedEntry
	Attempts []store.CampaignEntry
	Status   store.Status
	Last     *store.Result
}

// MaxExecutionIDLen bounds an execution id: it names a folder and is part
// of upload keys.
const MaxExecutionIDLen = 128

// CheckExecutionID refuses an execution id that would not name one plain
// folder: it must start with a letter or digit and hold only letters,
// digits, '.', '_' and '-' (CI pipeline ids and "$CI_PIPELINE_ID-$JOB"
// fit). A '/' or a space would nest folders or make odd upload keys, and
// ".." would leave the results folder. The error quotes the id and
// states the rule.
func CheckExecutionID(id string) error {
	bad := id == "" || len(id) > MaxExecutionIDLen || !isAlnum(id[0])
	for i := 0; i < len(id) && !bad; i++ {
		c := id[i]
		bad = !isAlnum(c) && c != '.' && c != '_' && c != '-'
	}
	if bad {
		return fmt.Errorf("%q: use 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit", id, MaxExecutionIDLen)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// NewExecutionID returns upstream's execution id: campaign_exec_<epoch>_<8 hex>.
func NewExecutionID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("campaign_exec_%d_%s", now.Unix(), hex.EncodeToString(b[:]))
}

// Run executes a plan under an execution id (a new one, or the one the
// shards of a CI matrix share). ctx is the graceful stop: when it ends no
// new script starts and the running ones are interrupted. The campaign row
// is finalised on every exit path once it exists.
func (r *Runner) Run(ctx context.Context, plan *Plan, executionID string) (*Outcome, error) {
	if _, ok := r.Exec.(Placer); plan.Placed && !ok {
		return nil, fmt.Errorf("%w: a distributed campaign needs an executor that places runs on the lab's devices", ErrInvalid)
	}
	start := time.Now()
	c, shard, err := r.create(ctx, plan, executionID, start)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Campaign: c, Dir: c.ReportDir, Results: map[string]*store.Result{}, DevicesDown: map[string]string{},
		FailOnFlaky: plan.Options.FailOnFlaky}
	stopBeat := r.heartbeat(ctx, c)
	defer stopBeat()
	if r.Observer != nil {
		r.Observer.Started(plan, c)
	}
	pool := r.healthyPool(ctx, plan, out)
	d := newDispatch(r, plan, c, shard, pool, start.Add(plan.Settings.Timeout), out)
	d.run(ctx)
	if len(pool) == 0 && !out.Interrupted {
		return out, errors.Join(r.finalise(ctx, plan, out, shard), fmt.Errorf("%w: %s", ErrNoDevice, downList(out.DevicesDown)))
	}
	return out, r.finalise(ctx, plan, out, shard)
}

// create records the campaign execution, or joins it (another shard).
func (r *Runner) create(ctx context.Context, plan *Plan, executionID string, start time.Time) (*store.Campaign, int, error) {
	f := plan.File
	if executionID == "" {
		executionID = NewExecutionID(start)
	}
	if err := CheckExecutionID(executionID); err != nil {
		return nil, 0, fmt.Errorf("%w: execution id %w", ErrInvalid, err)
	}
	// An execution id that is another execution's id would name two
	// campaigns: reports, reruns and regenerate would mix them up. Ids are
	// UUIDs (store.NewID): other execution ids are not looked up (a shard
	// joining a large execution would read all its entries for nothing).
	if len(executionID) == 36 && strings.Count(executionID, "-") == 4 {
		if other, _, err := r.Store.GetCampaign(ctx, executionID); err == nil && other.ID == executionID && other.ExecutionID != executionID {
			return nil, 0, fmt.Errorf("%w: execution id %s is the id of campaign execution %s: give another", ErrInvalid, executionID, other.ExecutionID)
		}
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
			"retries": plan.Settings.Retries, "max_failures": plan.Settings.MaxFailures, "pool": plan.Pool,
			summary.FailOnFlakyKey: plan.Options.FailOnFlaky},
		ShardTotal: shards, Stats: store.CampaignStats{Total: plan.Total},
		ReportDir: report.CampaignDir(r.ResultsDir, executionID), Owner: store.ThisProcess().String(), HeartbeatAt: start.UTC(),
		Extra: r.extra(plan),
	}
	started := r.event(c, store.EventCampaignStarted, store.CampaignData{Name: c.Name, Status: StatusRunning, Shard: shard,
		Shards: shards, Entries: len(plan.Entries), Pool: plan.Pool})
	joined, err := r.Store.CreateCampaign(ctx, c, started)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	if joined && (c.CampaignID != f.CampaignID || c.Stats.Total != plan.Total) {
		// Another campaign file's execution: joining it would mix the two.
		return nil, 0, fmt.Errorf("%w: execution %s is of campaign %s (%d entries), not of %s (%d entries): give each campaign file its own --execution-id",
			ErrInvalid, executionID, c.CampaignID, c.Stats.Total, f.CampaignID, plan.Total)
	}
	if joined && c.ShardTotal != shards {
		return nil, 0, fmt.Errorf("%w: execution %s was started with %d shards, not %d", ErrInvalid, executionID, c.ShardTotal, shards)
	}
	if joined && plan.Assignment != nil {
		plan.adopt(c.Extra[shardPlanKey], shard)
	}
	if c.ReportDir == "" {
		c.ReportDir = report.CampaignDir(r.ResultsDir, executionID)
	}
	return c, shard, nil
}

// heartbeat tells other processes that this one still runs the campaign.
func (r *Runner) heartbeat(ctx context.Context, c *store.Campaign) func() {
	owner := store.ThisProcess().String()
	return store.Beat(ctx, func(ctx context.Context, now time.Time) {
		if err := r.Store.HeartbeatCampaign(ctx, c.ID, owner, now.UTC()); err != nil {
			r.log().Warn("campaign heartbeat", "err", err)
		}
	})
}

// healthyPool is the plan's pool; a "device: auto" pool without the
// devices that do not answer.
func (r *Runner) healthyPool(ctx context.Context, plan *Plan, out *Outcome) []string {
	if r.CheckDevice == nil || !plan.File.Device.Auto() || len(plan.Options.Devices) > 0 {
		return plan.Pool
	}
	errs := make([]error, len(plan.Pool))
	done := make(chan int)
	for i, id := range plan.Pool {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			errs[i] = r.CheckDevice(cctx, id)
			done <- i
		}()
	}
	for range plan.Pool {
		<-done
	}
	var pool []string
	for i, id := range plan.Pool {
		if errs[i] != nil {
			r.deviceDown(out, id, errs[i].Error())
			continue
		}
		pool = append(pool, id)
	}
	return pool
}

func (r *Runner) deviceDown(out *Outcome, id, reason string) {
	out.DevicesDown[id] = reason
	e := r.event(out.Campaign, store.EventDeviceDown, store.DeviceData{Reason: reason})
	e.DeviceID = id
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := r.Store.AppendEvents(ctx, e); err != nil {
		r.log().Warn("device down event", "err", err)
	}
	cancel()
	if r.Observer != nil {
		r.Observer.DeviceDown(id, reason)
	}
}

// event is an event of campaign c.
func (r *Runner) event(c *store.Campaign, t store.EventType, data any) store.Event {
	e := store.NewEvent(t, data)
	e.CampaignID, e.HostName = c.ExecutionID, r.HostName
	return e
}

// entryEvent is an event of one attempt of an entry.
func (r *Runner) entryEvent(c *store.Campaign, t store.EventType, ce store.CampaignEntry) store.Event {
	e := r.event(c, t, store.EntryData{Index: ce.Index, Attempt: ce.Attempt, Script: ce.ScriptName, Status: ce.Status,
		DurationMs: ce.DurationMs, Error: ce.Error, Requeued: ce.Requeued})
	e.RunID, e.DeviceID = ce.ScriptResultID, ce.DeviceID
	return e
}

func downList(down map[string]string) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(down)) {
		parts = append(parts, id+": "+down[id])
	}
	return strings.Join(parts, "; ")
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
