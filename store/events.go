package store

import (
	"encoding/json"
	"time"
)

// EventType names what happened. The set is closed in the sense that
// readers (vpt events, vpt report serve) know each of these; new types may
// be added, and readers skip the ones they do not know.
type EventType string

// The event types. A run's events share its RunID, a campaign's its
// CampaignID (the campaign execution id); device events name a DeviceID
// and a HostName, agent events an Agent.
const (
	// EventRunQueued: a run waits for its device (before its row exists;
	// the run id is the one its row will have).
	EventRunQueued EventType = "run.queued"
	// EventRunStarted: the run's row was created (status running).
	EventRunStarted EventType = "run.started"
	// EventRunStep: a step was recorded or ended (RunStep data).
	EventRunStep EventType = "run.step"
	// EventRunScreenshot: a screenshot was taken (RunScreenshot data).
	EventRunScreenshot EventType = "run.screenshot"
	// EventRunVerification: a node's verifications were checked.
	EventRunVerification EventType = "run.verification"
	// EventRunVerdict: the run's status was decided (RunVerdict data),
	// before its video and reports are finalised.
	EventRunVerdict EventType = "run.verdict"
	// EventRunFinished: the run's row is final (RunFinished data).
	EventRunFinished EventType = "run.finished"

	EventCampaignStarted  EventType = "campaign.started"
	EventEntryStarted     EventType = "campaign.entry_started"
	EventEntryFinished    EventType = "campaign.entry_finished"
	EventCampaignFinished EventType = "campaign.finished"

	// EventDeviceBusy: a run took the device; EventDeviceIdle: it let it
	// go; EventDeviceDown: it failed (DeviceDown data) and left a pool.
	EventDeviceBusy EventType = "device.busy"
	EventDeviceIdle EventType = "device.idle"
	EventDeviceDown EventType = "device.down"

	// EventAgentUp / EventAgentDown: a lab host's agent started serving
	// its devices, or stopped (or was found dead).
	EventAgentUp   EventType = "agent.up"
	EventAgentDown EventType = "agent.down"
)

// EventTypes lists every type, in the order of the documentation.
var EventTypes = []EventType{
	EventRunQueued, EventRunStarted, EventRunStep, EventRunScreenshot, EventRunVerification, EventRunVerdict,
	EventRunFinished, EventCampaignStarted, EventEntryStarted, EventEntryFinished, EventCampaignFinished,
	EventDeviceBusy, EventDeviceIdle, EventDeviceDown, EventAgentUp, EventAgentDown,
}

// Event is one row of the events table. Seq orders events: it grows with
// every append, in the order the appends committed, across processes and
// hosts; readers resume after the last Seq they saw.
type Event struct {
	Seq        int64     `json:"seq"`
	Type       EventType `json:"type"`
	At         time.Time `json:"at"`
	RunID      string    `json:"run_id,omitempty"`
	CampaignID string    `json:"campaign_id,omitempty"`
	HostName   string    `json:"host,omitempty"`
	DeviceID   string    `json:"device,omitempty"`
	Agent      string    `json:"agent,omitempty"`
	// Data is the type's own JSON object (see the *Data types); {} when
	// the type has none.
	Data json.RawMessage `json:"data,omitempty"`
}

// NewEvent returns an event of type t now, with data encoded as its Data.
func NewEvent(t EventType, data any) Event {
	e := Event{Type: t, At: time.Now().UTC()}
	if data != nil {
		if b, err := json.Marshal(data); err == nil {
			e.Data = b
		}
	}
	return e
}

// Decode reads the event's data into v.
func (e Event) Decode(v any) error {
	if len(e.Data) == 0 {
		return nil
	}
	return json.Unmarshal(e.Data, v)
}

// EventFilter selects events. Zero fields select everything.
type EventFilter struct {
	// After: only events with a larger sequence number.
	After int64
	// Campaign: a campaign's events and those of its runs (execution id).
	Campaign string
	Run      string
	Types    []EventType
	// Before: only events that happened before this time (for pruning
	// and history), zero for no bound.
	Before time.Time
	// Limit bounds the answer (0: DefaultEventLimit).
	Limit int
}

// DefaultEventLimit bounds one read of events.
const DefaultEventLimit = 1000

// Data of the event types. Fields are omitted when unknown.
type (
	// RunData is the data of run.queued and run.started.
	RunData struct {
		Script        string   `json:"script"`
		Device        string   `json:"device"`
		DeviceModel   string   `json:"device_model,omitempty"`
		Args          []string `json:"args,omitempty"`
		UserInterface string   `json:"userinterface,omitempty"`
		Attempt       int      `json:"attempt,omitempty"`
		RunDir        string   `json:"run_dir,omitempty"`
	}
	// RunStep is the data of run.step: a step recorded, or one that started
	// (status running) or ended.
	RunStep struct {
		Number     int    `json:"number"`
		Name       string `json:"name"`
		Kind       string `json:"kind,omitempty"`
		Status     Status `json:"status"`
		Message    string `json:"message,omitempty"`
		Error      string `json:"error,omitempty"`
		DurationMs int64  `json:"duration_ms,omitempty"`
	}
	// RunScreenshot is the data of run.screenshot.
	RunScreenshot struct {
		Label     string `json:"label"`
		Path      string `json:"path"`
		Thumbnail string `json:"thumbnail,omitempty"`
		OffsetMs  int64  `json:"offset_ms"`
	}
	// RunVerification is the data of run.verification.
	RunVerification struct {
		Node   string `json:"node"`
		Passed bool   `json:"passed"`
		Checks int    `json:"checks"`
		Error  string `json:"error,omitempty"`
	}
	// RunVerdict is the data of run.verdict.
	RunVerdict struct {
		Status Status `json:"status"`
		Reason string `json:"reason,omitempty"`
		Source string `json:"source,omitempty"`
	}
	// RunFinished is the data of run.finished.
	RunFinished struct {
		Script     string `json:"script"`
		Device     string `json:"device"`
		Status     Status `json:"status"`
		Reason     string `json:"reason,omitempty"`
		DurationMs int64  `json:"duration_ms"`
		Steps      int    `json:"steps"`
		// Recovered: the run's vpt process died and another finished its row.
		Recovered bool `json:"recovered,omitempty"`
	}
	// CampaignData is the data of campaign.started and campaign.finished.
	CampaignData struct {
		Name    string         `json:"name"`
		Status  string         `json:"status"`
		Shard   int            `json:"shard,omitempty"`
		Shards  int            `json:"shards,omitempty"`
		Entries int            `json:"entries,omitempty"` // of this shard
		Pool    []string       `json:"pool,omitempty"`
		Stats   *CampaignStats `json:"stats,omitempty"`
		// Done: the whole execution is over (its last shard finished).
		Done   bool   `json:"done,omitempty"`
		Reason string `json:"reason,omitempty"`
	}
	// EntryData is the data of campaign.entry_started and entry_finished.
	EntryData struct {
		Index      int    `json:"index"`
		Attempt    int    `json:"attempt"`
		Script     string `json:"script"`
		Status     Status `json:"status"`
		DurationMs int64  `json:"duration_ms,omitempty"`
		Error      string `json:"error,omitempty"`
		Requeued   bool   `json:"requeued,omitempty"`
	}
	// DeviceData is the data of device.busy, device.idle and device.down.
	DeviceData struct {
		Script string `json:"script,omitempty"`
		Reason string `json:"reason,omitempty"`
	}
	// AgentData is the data of agent.up and agent.down.
	AgentData struct {
		Devices []string `json:"devices,omitempty"`
		Reason  string   `json:"reason,omitempty"`
	}
)
