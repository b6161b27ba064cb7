package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres"
)

// States of an agent row.
const (
	StateRunning  = "running"
	StateDraining = "draining" // stopping: takes no new job
	StateStopped  = "stopped"  // deregistered
	StateDead     = "dead"     // its heartbeat stopped; the reaper took its work back
)

// States of a device row.
const (
	DeviceIdle = "idle"
	DeviceBusy = "busy"
	DeviceDown = "down"
)

// AgentInfo is one agent of the lab as the database knows it.
type AgentInfo struct {
	Name         string        `json:"name"`
	Host         string        `json:"host_name"`
	Version      string        `json:"version"`
	Schema       int           `json:"schema_version"`
	Protocol     int           `json:"protocol"`
	State        string        `json:"state"`
	Reason       string        `json:"reason,omitempty"`
	ResultsDir   string        `json:"results_dir"`
	Queues       []string      `json:"queues"`
	StartedAt    time.Time     `json:"started_at"`
	HeartbeatAt  time.Time     `json:"heartbeat_at"`
	HeartbeatAge time.Duration `json:"heartbeat_age_ns"`
	Devices      []DeviceInfo  `json:"devices"`
}

// DeviceInfo is one device of an agent.
type DeviceInfo struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Model         string   `json:"model"`
	UserInterface string   `json:"userinterface,omitempty"`
	Capabilities  []string `json:"capabilities"`
	Tags          []string `json:"tags"`
	State         string   `json:"state"`
	Reason        string   `json:"reason,omitempty"`
	ResultID      string   `json:"result_id,omitempty"`
	Script        string   `json:"script_name,omitempty"`
}

// Live reports whether the agent serves jobs: registered, and heartbeating.
func (a AgentInfo) Live() bool {
	return a.State == StateRunning && a.HeartbeatAge < DeadAfter
}

// Compatible says why this vpt cannot hand the agent work (another schema
// or job format), nil when it can.
func (a AgentInfo) Compatible() error {
	if a.Schema != postgres.SchemaVersion() || a.Protocol != Protocol {
		return fmt.Errorf("%w: agent %s runs vpt %s (schema %d, protocol %d), this vpt has schema %d, protocol %d: run the same vpt version on every host",
			ErrSchema, a.Name, a.Version, a.Schema, a.Protocol, postgres.SchemaVersion(), Protocol)
	}
	return nil
}

// Status is what `vpt agents` shows: running, draining, stopped, or
// down with why.
func (a AgentInfo) Status() string {
	switch {
	case a.State == StateRunning && a.HeartbeatAge >= DeadAfter:
		return fmt.Sprintf("down: no heartbeat for %s", a.HeartbeatAge.Round(time.Second))
	case a.State == StateDead:
		return "down: " + a.Reason
	}
	return a.State
}

// listAgents reads every agent and its devices.
func listAgents(ctx context.Context, pool *pgxpool.Pool) ([]AgentInfo, error) {
	rows, err := pool.Query(ctx, `SELECT name, host_name, version, schema_version, protocol, state, reason, results_dir,
		queues, started_at, heartbeat_at, EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 FROM vpt_agents ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("%w: agents: %w", store.ErrUnavailable, err)
	}
	var out []AgentInfo
	byName := map[string]int{}
	for rows.Next() {
		var a AgentInfo
		var queues []byte
		var age float64
		if err := rows.Scan(&a.Name, &a.Host, &a.Version, &a.Schema, &a.Protocol, &a.State, &a.Reason, &a.ResultsDir,
			&queues, &a.StartedAt, &a.HeartbeatAt, &age); err != nil {
			rows.Close()
			return nil, err
		}
		a.HeartbeatAge = time.Duration(age * float64(time.Second))
		_ = json.Unmarshal(queues, &a.Queues)
		byName[a.Name] = len(out)
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: agents: %w", store.ErrUnavailable, err)
	}
	drows, err := pool.Query(ctx, `SELECT agent, device_id, name, model, userinterface, capabilities, tags, state, reason,
		result_id, script_name FROM vpt_agent_devices ORDER BY agent, device_id`)
	if err != nil {
		return nil, fmt.Errorf("%w: agent devices: %w", store.ErrUnavailable, err)
	}
	defer drows.Close()
	for drows.Next() {
		var agent string
		var d DeviceInfo
		var caps, tags []byte
		if err := drows.Scan(&agent, &d.ID, &d.Name, &d.Model, &d.UserInterface, &caps, &tags, &d.State, &d.Reason,
			&d.ResultID, &d.Script); err != nil {
			return nil, err
		}
		_ = json.Unmarshal(caps, &d.Capabilities)
		_ = json.Unmarshal(tags, &d.Tags)
		if i, ok := byName[agent]; ok {
			out[i].Devices = append(out[i].Devices, d)
		}
	}
	return out, drows.Err()
}

// lab is a snapshot of the lab for planning: it resolves selectors.
type lab struct{ agents []AgentInfo }

// suits tells whether a device can run scripts of a userinterface, as a
// local campaign decides it: the virtual device shows any, a device with
// no userinterface of its own any, another device its own.
func suits(d DeviceInfo, ui string) bool {
	return ui == "" || d.Model == "virtual" || d.UserInterface == "" || d.UserInterface == ui
}

func matches(sel campaign.Selector, agent string, d DeviceInfo) bool {
	switch sel.Kind {
	case campaign.SelectDevice:
		return sel.Agent == agent && sel.Value == d.ID
	case campaign.SelectModel:
		return d.Model == sel.Value
	case campaign.SelectTag:
		return slices.Contains(d.Tags, sel.Value)
	}
	return true
}

// Resolve implements campaign.Lab.
func (l *lab) Resolve(selector, ui string) (string, []string, error) {
	sel, err := campaign.ParseSelector(selector)
	if err != nil {
		return "", nil, err
	}
	if sel.Kind == campaign.SelectName {
		sel = l.name(sel.Value)
		if sel.Kind == campaign.SelectName {
			return "", nil, fmt.Errorf("no live agent has a device of model or tag %q (models: %s; tags: %s)",
				sel.Value, list(l.values(func(d DeviceInfo) []string { return []string{d.Model} })),
				list(l.values(func(d DeviceInfo) []string { return d.Tags })))
		}
	}
	if sel.Kind == campaign.SelectDevice {
		if err := l.pinned(sel, ui); err != nil {
			return "", nil, err
		}
		return sel.String(), []string{sel.String()}, nil
	}
	var devices, elsewhere []string
	for _, a := range l.agents {
		for _, d := range a.Devices {
			if !matches(sel, a.Name, d) || !suits(d, ui) {
				continue
			}
			switch {
			case a.Live() && a.Compatible() == nil && d.State != DeviceDown:
				devices = append(devices, a.Name+"/"+d.ID)
			case a.Live() && a.Compatible() != nil:
				elsewhere = append(elsewhere, fmt.Sprintf("%s/%s (%s)", a.Name, d.ID, firstLine(a.Compatible().Error())))
			case a.Live():
				elsewhere = append(elsewhere, fmt.Sprintf("%s/%s (down: %s)", a.Name, d.ID, d.Reason))
			}
		}
	}
	if len(devices) == 0 {
		what := map[string]string{campaign.SelectAuto: "a healthy device", campaign.SelectModel: "a healthy device of model " + sel.Value,
			campaign.SelectTag: "a healthy device tagged " + sel.Value}[sel.Kind]
		if ui != "" {
			what += " that shows userinterface " + ui
		}
		msg := "no live agent has " + what
		if len(elsewhere) > 0 {
			msg += "; unusable: " + strings.Join(elsewhere, ", ")
		}
		return "", nil, fmt.Errorf("%s", msg)
	}
	sort.Strings(devices)
	return sel.String(), devices, nil
}

// name reads a bare selector: a model if a live device has it, else a tag.
func (l *lab) name(v string) campaign.Selector {
	for _, kind := range []string{campaign.SelectModel, campaign.SelectTag} {
		s := campaign.Selector{Kind: kind, Value: v}
		for _, a := range l.agents {
			for _, d := range a.Devices {
				if a.Live() && matches(s, a.Name, d) {
					return s
				}
			}
		}
	}
	return campaign.Selector{Kind: campaign.SelectName, Value: v}
}

func (l *lab) pinned(sel campaign.Selector, ui string) error {
	var names []string
	for _, a := range l.agents {
		names = append(names, a.Name)
		if a.Name != sel.Agent {
			continue
		}
		switch {
		case !a.Live():
			return fmt.Errorf("agent %s is not live (%s, last heartbeat %s ago)", a.Name, a.Status(), a.HeartbeatAge.Round(time.Second))
		case a.Compatible() != nil:
			return a.Compatible()
		}
		var ids []string
		for _, d := range a.Devices {
			ids = append(ids, d.ID)
			if d.ID != sel.Value {
				continue
			}
			switch {
			case d.State == DeviceDown:
				return fmt.Errorf("device %s is down: %s", sel, d.Reason)
			case !suits(d, ui):
				return fmt.Errorf("device %s shows userinterface %s, not %s", sel, d.UserInterface, ui)
			}
			return nil
		}
		return fmt.Errorf("agent %s has no device %s (it has %s)", a.Name, sel.Value, list(ids))
	}
	return fmt.Errorf("no agent is named %s (agents: %s)", sel.Agent, list(names))
}

// values collects a property of every live device, sorted and unique.
func (l *lab) values(f func(DeviceInfo) []string) []string {
	seen := map[string]bool{}
	for _, a := range l.agents {
		if !a.Live() {
			continue
		}
		for _, d := range a.Devices {
			for _, v := range f(d) {
				seen[v] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
