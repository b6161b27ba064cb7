// Package store keeps the history of runs and campaigns: one row per script
// run (script_results, upstream's columns plus a status), one row per campaign
// execution, and a link table between them.
//
// Two implementations exist behind the Store interface: SQLite (the default,
// store/sqlite) and PostgreSQL (store/postgres). Both pass the same
// conformance suite in store/storetest.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// Errors returned by every Store implementation.
var (
	// ErrNotFound: no row has that id (or id prefix).
	ErrNotFound = errors.New("not found")
	// ErrAmbiguous: an id prefix matches more than one row.
	ErrAmbiguous = errors.New("ambiguous id prefix")
	// ErrUnavailable: the database cannot be opened or reached.
	ErrUnavailable = errors.New("results store unavailable")
	// ErrNewerSchema: the database was migrated by a newer vpt, whose
	// rows this one might misread or damage; it is refused.
	ErrNewerSchema = errors.New("results store written by a newer vpt")
	// ErrBadURL: the store URL is malformed or names an unknown scheme.
	ErrBadURL = errors.New("bad store URL")
)

// ShardEnd is a shard of a campaign execution that ended, and how.
type ShardEnd struct {
	Shard  int
	Status string
}

// Store is the results database. Every method is safe for concurrent use and
// several processes (and, for PostgreSQL, several hosts) may use one database
// at once.
//
// The methods that write a row take the events that describe the change
// (evs): they are appended in the same transaction as the row, so a reader
// of the event log never hears of a row that was not written, nor misses
// one that was. The Finish methods append them only when they changed the
// row.
type Store interface {
	// CreateResult inserts a new row. r.ID must be set; r.Status is usually
	// StatusRunning.
	CreateResult(ctx context.Context, r *Result, evs ...Event) error
	// UpdateResult writes every mutable field of r (status, times, verdict,
	// details, upload state, metadata). What CreateResult recorded of who
	// ran what, where and when (team, script, parameters, userinterface,
	// host, device, start, run folder, owning process) stays as it was.
	// It returns ErrNotFound if the row is gone.
	UpdateResult(ctx context.Context, r *Result, evs ...Event) error
	// Heartbeat records that the vpt process owning these running rows is alive.
	Heartbeat(ctx context.Context, ids []string, at time.Time) error
	// GetResult returns one row by full id or by a unique id prefix
	// (ErrNotFound, ErrAmbiguous).
	GetResult(ctx context.Context, id string) (*Result, error)
	// ListResults returns rows newest first.
	ListResults(ctx context.Context, f ResultFilter) ([]Result, error)
	// ScriptStats summarises the recent history of each named script.
	ScriptStats(ctx context.Context, scripts []string, window int) (map[string]ScriptStats, error)
	// RecentDurations returns, per named script, the durations (ms) of its
	// last window passed or failed runs, newest first; on one device, or on
	// any when device is "".
	RecentDurations(ctx context.Context, scripts []string, device string, window int) (map[string][]int64, error)
	// Trends returns the recent finished runs of every script (or of one),
	// by script name.
	Trends(ctx context.Context, f TrendFilter) ([]ScriptTrend, error)
	// DeleteResult removes a row. The campaign attempt that made it stays,
	// unlinked (no script result id): the campaign's history keeps it.
	// Deleting a missing row is not an error.
	DeleteResult(ctx context.Context, id string) error
	// RunningResults returns every row still running, with its details.
	RunningResults(ctx context.Context) ([]Result, error)
	// FinishResult writes r over its row only if that row is still
	// running, and reports whether it did: another process may have
	// finished or recovered it meanwhile.
	FinishResult(ctx context.Context, r *Result, evs ...Event) (bool, error)

	// CreateCampaign inserts a campaign execution, or, when a row with the
	// same ExecutionID exists (another shard of the same execution), loads
	// that row into c and returns joined=true.
	CreateCampaign(ctx context.Context, c *Campaign, evs ...Event) (joined bool, err error)
	// UpdateCampaign writes the mutable fields of c (status, stats, times,
	// report paths).
	UpdateCampaign(ctx context.Context, c *Campaign, evs ...Event) error
	// PutCampaignEntry inserts or replaces one attempt of one entry.
	PutCampaignEntry(ctx context.Context, e CampaignEntry, evs ...Event) error
	// GetCampaign returns a campaign by id, execution id, or unique prefix of
	// either (a whole id first, then a whole execution id), with its entries
	// in (index, attempt) order.
	GetCampaign(ctx context.Context, id string) (*Campaign, []CampaignEntry, error)
	// CampaignResults returns, in one read, the results the entries of a
	// campaign (by its id or its execution id; when both name campaigns,
	// the one of that id, as GetCampaign) link, with their details, in no
	// given order. A result deleted since (pruned) is simply not among them.
	CampaignResults(ctx context.Context, campaignID string) ([]Result, error)
	// ListCampaigns returns campaigns newest first.
	ListCampaigns(ctx context.Context, f CampaignFilter) ([]Campaign, error)
	// HeartbeatCampaign records that the vpt process owner still runs a
	// shard of the campaign.
	HeartbeatCampaign(ctx context.Context, id, owner string, at time.Time) error
	// RunningCampaigns returns every campaign still running.
	RunningCampaigns(ctx context.Context) ([]Campaign, error)
	// FinishCampaign writes c over its row only if that row is still
	// running, and reports whether it did.
	FinishCampaign(ctx context.Context, c *Campaign, evs ...Event) (bool, error)
	// FinishShard records that one shard of a campaign execution ended and
	// returns every shard that has, sorted, with the status it ended with.
	FinishShard(ctx context.Context, campaignID string, shard int, status, host string) ([]ShardEnd, error)
	// DeleteCampaign removes a campaign and its links (not its script results).
	DeleteCampaign(ctx context.Context, id string) error

	EventLog

	Close() error
}

// EventLog is the store's log of events (see Event): appended by runs,
// campaigns and agents, read by vpt events and vpt report serve.
type EventLog interface {
	// AppendEvents appends events that belong to no row write (steps,
	// screenshots, agents), in one transaction.
	AppendEvents(ctx context.Context, evs ...Event) error
	// Events returns the events f selects in sequence order.
	Events(ctx context.Context, f EventFilter) ([]Event, error)
	// LastEventSeq is the sequence number of the newest event (0: none).
	LastEventSeq(ctx context.Context) (int64, error)
	// WaitEvents returns once an event newer than after exists, or with
	// ctx's error. PostgreSQL wakes waiters with NOTIFY; SQLite is polled.
	WaitEvents(ctx context.Context, after int64) error
	// PruneEvents deletes the events that happened before a time, but
	// those of the runs and campaigns still in the store, and returns how
	// many. Sequence numbers are never reused.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
}

// Status of a script result or campaign entry.
type Status string

// Statuses, as DESIGN.md lists them.
const (
	StatusRunning     Status = "running"
	StatusPassed      Status = "passed"
	StatusFailed      Status = "failed"
	StatusError       Status = "error"
	StatusTimeout     Status = "timeout"
	StatusInterrupted Status = "interrupted"
	StatusAbandoned   Status = "abandoned"
	// Campaign entries only.
	StatusFlaky  Status = "flaky"
	StatusNotRun Status = "not_run"
)

// Final reports whether the status ends a run.
func (s Status) Final() bool { return s != StatusRunning && s != "" }

// Upload states of a result.
const (
	UploadNone    = ""
	UploadPending = "pending"
	UploadDone    = "uploaded"
)

// Result is one run of one script on one device: a row of script_results.
type Result struct {
	ID            string    `json:"id"`
	TeamID        string    `json:"team_id"`
	ScriptName    string    `json:"script_name"`
	ScriptType    string    `json:"script_type"`
	ScriptPath    string    `json:"script_path"`
	Parameters    []string  `json:"parameters"`
	UserInterface string    `json:"userinterface_name,omitempty"`
	HostName      string    `json:"host_name"`
	DeviceID      string    `json:"device_id"`
	DeviceName    string    `json:"device_name"`
	DeviceModel   string    `json:"device_model"`
	Status        Status    `json:"status"`
	Success       bool      `json:"success"`
	ExitCode      *int      `json:"exit_code"`
	ErrorMsg      string    `json:"error_msg,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	// CompletedAt is nil while the run is going.
	CompletedAt     *time.Time `json:"completed_at"`
	ExecutionTimeMs int64      `json:"execution_time_ms"`
	RunDir          string     `json:"run_dir"`

	HTMLReportR2Path string `json:"html_report_r2_path,omitempty"`
	HTMLReportR2URL  string `json:"html_report_r2_url,omitempty"`
	LogsR2Path       string `json:"logs_r2_path,omitempty"`
	LogsR2URL        string `json:"logs_r2_url,omitempty"`
	UploadStatus     string `json:"upload_status,omitempty"`

	Discard        bool           `json:"discard"`
	Checked        bool           `json:"checked"`
	CheckType      string         `json:"check_type,omitempty"`
	DiscardComment string         `json:"discard_comment,omitempty"`
	Metadata       map[string]any `json:"metadata"`
	Details        Details        `json:"details"`

	// The vpt process that owns the row while it runs: Owner identifies it
	// uniquely (see Process); PID and PIDStart are kept for people.
	PID         int       `json:"pid"`
	PIDStart    int64     `json:"pid_start,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
}

// Details is what a run recorded beyond the row's columns: steps,
// screenshots, video, the script's summary. It is stored as JSON.
type Details struct {
	Steps       []Step       `json:"steps,omitempty"`
	Screenshots []Screenshot `json:"screenshots,omitempty"`
	Video       *Video       `json:"video,omitempty"`
	Summary     string       `json:"summary,omitempty"`
	// Verdict source: "api", "marker" (SCRIPT_SUCCESS line), "exit_code".
	VerdictSource string `json:"verdict_source,omitempty"`
	// FailReason is what vpt.fail() or a failed step reported.
	FailReason  string `json:"fail_reason,omitempty"`
	OutputBytes int64  `json:"output_bytes"`
	OutputLines int64  `json:"output_lines"`
	// ReportURL / LogsURL read from the script's output (upstream markers).
	ReportURL  string `json:"report_url,omitempty"`
	LogsURL    string `json:"logs_url,omitempty"`
	CampaignID string `json:"campaign_execution_id,omitempty"`
	Attempt    int    `json:"attempt,omitempty"`
	// Entry is the index (from 0) of the campaign entry the run is an
	// attempt of: campaign recovery links a run whose entry a dying vpt
	// never recorded.
	Entry *int `json:"entry,omitempty"`
	// UploadError is why the last upload failed (secrets masked), while
	// the upload is pending.
	UploadError string `json:"upload_error,omitempty"`
	// AV is the check of the run's recording (check_video, check_audio).
	AV *AVCheck `json:"av,omitempty"`
}

// Step is one recorded step (a navigation transition, a `with vpt.step()`
// block, a vpt.step() call).
type Step struct {
	Number        int            `json:"number"`
	Name          string         `json:"name"`
	Kind          string         `json:"kind,omitempty"` // navigation, step, verification, av
	Status        Status         `json:"status"`         // passed, failed
	Message       string         `json:"message,omitempty"`
	Error         string         `json:"error,omitempty"`
	Traceback     string         `json:"traceback,omitempty"`
	From          string         `json:"from,omitempty"`
	To            string         `json:"to,omitempty"`
	Actions       []Action       `json:"actions,omitempty"`
	Verifications []Verification `json:"verifications,omitempty"`
	Recovered     bool           `json:"recovered,omitempty"`
	Screenshots   []int          `json:"screenshots,omitempty"` // indexes into Details.Screenshots
	StartedAt     time.Time      `json:"started_at"`
	// Offset of the step's start from the run's start, for video markers.
	OffsetMs   int64 `json:"offset_ms"`
	DurationMs int64 `json:"duration_ms"`
	// AV is the evidence of a picture or sound analysis (kind av).
	AV *AVEvidence `json:"av,omitempty"`
}

// Action is one device action of a step.
type Action struct {
	Command string            `json:"command"`
	Params  map[string]string `json:"params,omitempty"`
	Passed  bool              `json:"passed"`
	Error   string            `json:"error,omitempty"`
	Retry   bool              `json:"retry,omitempty"`
}

// Verification is one check of a step.
type Verification struct {
	Type      string  `json:"type"`
	Label     string  `json:"label,omitempty"`
	Passed    bool    `json:"passed"`
	Score     float64 `json:"score,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	Error     string  `json:"error,omitempty"`
	Reference string  `json:"reference,omitempty"` // path relative to the run folder
	Source    string  `json:"source,omitempty"`    // screenshot path relative to the run folder
	// Detail is what the check measured: the text read, the dark
	// fraction, the level heard.
	Detail string `json:"detail,omitempty"`
}

// AVEvidence is what a picture or sound analysis of the script API found,
// and what decided it (its frames are the step's screenshots).
type AVEvidence struct {
	// Method of the script API: is_black, wait_for_motion, press_and_wait…
	Method string `json:"method"`
	// Region analysed, [x, y, width, height] (absent: the whole picture).
	Region []int `json:"region,omitempty"`
	// Params the call was made with; Result what it answered (times in ms
	// from the run's start, durations in seconds).
	Params map[string]any `json:"params,omitempty"`
	Result map[string]any `json:"result,omitempty"`
	// Intervals found: black, frozen, silent.
	Intervals []AVInterval `json:"intervals,omitempty"`
}

// Span is a stretch of the run, in ms from its start.
type Span struct {
	StartMs int64 `json:"start_ms"`
	EndMs   int64 `json:"end_ms"`
}

// AVInterval is a span of a kind: black, frozen, silent.
type AVInterval struct {
	Kind string `json:"kind"`
	Span
}

// AVCheck is the check of a run's recording over the script's time
// window: what ffmpeg's detectors found, and the verdict against limits.
type AVCheck struct {
	// Video and Audio say which checks were asked for.
	Video bool `json:"video"`
	Audio bool `json:"audio"`
	// Window analysed (the script's), in ms from the run's start.
	Window Span   `json:"window"`
	Black  []Span `json:"black"`
	Frozen []Span `json:"frozen"`
	Silent []Span `json:"silent"`
	// MotionRatio is the fraction of the window neither black nor frozen.
	MotionRatio float64   `json:"motion_ratio"`
	Loudness    *Loudness `json:"loudness,omitempty"`
	// Passed: no stretch was longer than its limit.
	Passed   bool     `json:"passed"`
	Limits   AVLimits `json:"limits"`
	Problems []string `json:"problems,omitempty"`
	// Error says why the check could not be made (no recording, no sound
	// track); the run is then an error.
	Error     string `json:"error,omitempty"`
	ElapsedMs int64  `json:"elapsed_ms"`
}

// AVLimits are the longest black, frozen and silent stretches allowed, in
// ms; a negative limit is not checked.
type AVLimits struct {
	MaxBlackMs   int64 `json:"max_black_ms"`
	MaxFreezeMs  int64 `json:"max_freeze_ms"`
	MaxSilenceMs int64 `json:"max_silence_ms"`
}

// Loudness of the sound, EBU R128: integrated (LUFS), range (LU), sample
// peak (dBFS), the loudest momentary and short-term loudness, and the
// short-term loudness every second.
type Loudness struct {
	Integrated   float64         `json:"integrated"`
	Range        float64         `json:"range"`
	Peak         float64         `json:"peak"`
	MaxMomentary float64         `json:"max_momentary"`
	MaxShortTerm float64         `json:"max_short_term"`
	ShortTerm    []LoudnessPoint `json:"short_term,omitempty"`
}

// LoudnessPoint is a loudness at a moment of the run.
type LoudnessPoint struct {
	AtMs int64   `json:"at_ms"`
	LUFS float64 `json:"lufs"`
}

// Screenshot is one image in the run folder.
type Screenshot struct {
	Label     string    `json:"label"`
	Path      string    `json:"path"`      // relative to the run folder
	Thumbnail string    `json:"thumbnail"` // relative to the run folder
	TakenAt   time.Time `json:"taken_at"`
	OffsetMs  int64     `json:"offset_ms"`
	Width     int       `json:"width,omitempty"`
	Height    int       `json:"height,omitempty"`
}

// Video describes the run's recording.
type Video struct {
	Path       string `json:"path"` // relative to the run folder; "" when not finalised
	DurationMs int64  `json:"duration_ms"`
	// OffsetMs is when the video begins, from the run's start.
	OffsetMs  int64 `json:"offset_ms"`
	SizeBytes int64 `json:"size_bytes"`
	// State: recorded, finalised, discarded (retain-on-failure after a pass), failed.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// ResultFilter selects results. Zero fields select everything.
type ResultFilter struct {
	Script   string
	Device   string
	Campaign string // campaign id or execution id
	Statuses []Status
	Since    time.Time
	Before   time.Time
	Upload   string // upload status
	Host     string
	// After pages: only rows that sort after it (older, newest first).
	After *Cursor
	Limit int
}

// Cursor is a position in the newest-first order of results: keyset
// paging, as fast on the thousandth page as on the first.
type Cursor struct {
	StartedAt time.Time
	ID        string
}

// ScriptStats summarises the last `window` finished results of one script.
type ScriptStats struct {
	Runs   int
	Passed int
	// Flips counts changes between passing and failing, newest first.
	Flips int
}

// PassRate is Passed/Runs, or -1 when there are no runs.
func (s ScriptStats) PassRate() float64 {
	if s.Runs == 0 {
		return -1
	}
	return float64(s.Passed) / float64(s.Runs)
}

// Flaky reports a script whose recent results alternate between pass and fail.
func (s ScriptStats) Flaky() bool { return s.Flips >= 2 }

// Campaign is one execution of a campaign file: a row of campaign_executions.
type Campaign struct {
	ID                   string         `json:"id"`
	ExecutionID          string         `json:"campaign_execution_id"`
	TeamID               string         `json:"team_id"`
	Name                 string         `json:"campaign_name"`
	Description          string         `json:"campaign_description,omitempty"`
	CampaignID           string         `json:"campaign_id"`
	UserInterface        string         `json:"userinterface_name,omitempty"`
	HostName             string         `json:"host_name"`
	DeviceName           string         `json:"device_name"`
	Status               string         `json:"status"` // running, completed, failed, timeout, cancelled, abandoned
	StartedAt            time.Time      `json:"started_at"`
	CompletedAt          *time.Time     `json:"completed_at"`
	ExecutionTimeMs      int64          `json:"execution_time_ms"`
	Success              bool           `json:"success"`
	ErrorMessage         string         `json:"error_message,omitempty"`
	ScriptConfigurations any            `json:"script_configurations"`
	ExecutionConfig      any            `json:"execution_config"`
	Stats                CampaignStats  `json:"stats"`
	ShardTotal           int            `json:"shard_total"`
	ShardsDone           []int          `json:"shards_done"`
	HTMLReportR2Path     string         `json:"html_report_r2_path,omitempty"`
	HTMLReportR2URL      string         `json:"html_report_r2_url,omitempty"`
	ReportDir            string         `json:"report_dir"`
	Extra                map[string]any `json:"extra,omitempty"`
	// The vpt process that last reported running a shard of it (see
	// Process), and when.
	Owner       string    `json:"owner,omitempty"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
}

// CampaignStats counts entries by final status.
type CampaignStats struct {
	Total       int   `json:"total"`
	Completed   int   `json:"completed"`
	Passed      int   `json:"passed"`
	Failed      int   `json:"failed"`
	Flaky       int   `json:"flaky"`
	Timeout     int   `json:"timeout"`
	Error       int   `json:"error"`
	Interrupted int   `json:"interrupted"`
	NotRun      int   `json:"not_run"`
	DurationMs  int64 `json:"duration_ms"`
}

// CampaignEntry is one attempt of one script configuration of a campaign,
// linked to the script result it produced (none when it did not run).
type CampaignEntry struct {
	CampaignID     string    `json:"campaign_id"`
	Index          int       `json:"index"`
	Attempt        int       `json:"attempt"`
	Shard          int       `json:"shard"`
	ScriptName     string    `json:"script_name"`
	DeviceID       string    `json:"device_id"`
	Status         Status    `json:"status"`
	ScriptResultID string    `json:"script_result_id,omitempty"`
	StartedAt      time.Time `json:"started_at"`
	DurationMs     int64     `json:"duration_ms"`
	RunDir         string    `json:"run_dir,omitempty"`
	Error          string    `json:"error,omitempty"`
	// Requeued: the attempt's device failed and the entry went to another
	// device; such an attempt uses no retry and makes no entry flaky.
	Requeued bool `json:"requeued,omitempty"`
}

// CampaignFilter selects campaigns.
type CampaignFilter struct {
	Name       string // substring of the name or campaign id, case-insensitive
	CampaignID string // exactly this campaign id
	Status     string
	Limit      int
}

// NewID returns a random UUID (version 4), the id of results and campaigns.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
