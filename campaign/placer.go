package campaign

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vpt-dev/vpt/store"
)

// A distributed campaign runs on the devices of a lab's agents rather than
// on this machine's. Planning checks its device selectors against a Lab;
// the dispatch hands its attempts to a Placer, which puts each on a device
// itself (package agent: a job queue the agents pull from). Retries, flaky,
// max-failures, the deadline, devices leaving the pool, the reports and
// the verdict are the same as a local campaign's.

// Placer is an Executor that places each attempt on a device itself. The
// request's DeviceID is the entry's selector (see ParseSelector), and every
// entry is handed over at once (up to Plan.Workers), so that idle devices
// take the next one. Run returns ErrWithdrawn for an attempt withdrawn
// before it started, and wraps the ErrDevice of a device that failed (or
// of an agent that died) in a DeviceError naming it.
type Placer interface {
	Executor
	// Withdraw takes back the attempts of the campaign execution that have
	// not started; their Run returns ErrWithdrawn. Running ones go on.
	Withdraw(executionID, reason string)
}

// ErrWithdrawn: the campaign stopped before the attempt started; it did
// not run.
var ErrWithdrawn = errors.New("withdrawn before it started")

// DeviceError is the failure of the device a Placer chose ("agent/device").
type DeviceError struct {
	Device string
	Err    error
}

func (e *DeviceError) Error() string { return e.Device + ": " + e.Err.Error() }
func (e *DeviceError) Unwrap() error { return e.Err }

// Lab is the devices of a lab's live agents, for planning a distributed
// campaign.
type Lab interface {
	// Resolve checks a device selector for entries showing userinterface
	// ui ("" for any). It returns the selector in canonical form and the
	// devices ("agent/device") that can run such an entry, or an error
	// saying why none can.
	Resolve(selector, ui string) (canonical string, devices []string, err error)
}

// Selector kinds.
const (
	SelectAuto   = "auto"   // any device that suits the entry
	SelectDevice = "device" // one device of one agent: agent/device
	SelectModel  = "model"  // any device of a model: model:NAME
	SelectTag    = "tag"    // any device with a tag: tag:NAME
	// SelectName is a bare word: a model if the lab has it, else a tag.
	SelectName = "name"
)

// Selector says which devices of a lab may run an entry.
type Selector struct {
	Kind  string
	Agent string // SelectDevice
	Value string // the device id, model, tag or name
}

// ParseSelector reads an entry's device: "" or auto, agent/device,
// model:NAME, tag:NAME, or a bare NAME (a model, else a tag).
func ParseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "auto":
		return Selector{Kind: SelectAuto}, nil
	case strings.Contains(s, "/"):
		a, d, _ := strings.Cut(s, "/")
		if a == "" || d == "" || strings.Contains(d, "/") {
			return Selector{}, fmt.Errorf("device %q: expected AGENT/DEVICE, such as lab-a/device1", s)
		}
		return Selector{Kind: SelectDevice, Agent: a, Value: d}, nil
	}
	if kind, v, ok := strings.Cut(s, ":"); ok {
		if (kind != SelectModel && kind != SelectTag) || v == "" {
			return Selector{}, fmt.Errorf("device %q: expected model:NAME or tag:NAME", s)
		}
		return Selector{Kind: kind, Value: v}, nil
	}
	return Selector{Kind: SelectName, Value: s}, nil
}

// String is the canonical form ParseSelector reads back.
func (s Selector) String() string {
	switch s.Kind {
	case SelectDevice:
		return s.Agent + "/" + s.Value
	case SelectModel, SelectTag:
		return s.Kind + ":" + s.Value
	case SelectName:
		return s.Value
	}
	return SelectAuto
}

// Pinned reports whether the selector names one device: its entry cannot
// go to another when that device fails.
func (s Selector) Pinned() bool { return s.Kind == SelectDevice }

// placedRequeues is the least number of times an entry of a distributed
// campaign goes to another device after an infrastructure error (device
// lost, agent died or stopped); more when the lab has more devices.
const placedRequeues = 3

// PlacedDevice names the device a placed run ran on, as the campaign
// records it: the agent (the run's host) and its device.
func PlacedDevice(res *store.Result) string { return res.HostName + "/" + res.DeviceID }
