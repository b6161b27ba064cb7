package campaign

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/store"
)

func TestParseSelector(t *testing.T) {
	for _, c := range []struct {
		in, want, kind string
		pinned         bool
	}{
		{"", "auto", SelectAuto, false},
		{"auto", "auto", SelectAuto, false},
		{"lab-a/device1", "lab-a/device1", SelectDevice, true},
		{"model:android_tv", "model:android_tv", SelectModel, false},
		{"tag:4k", "tag:4k", SelectTag, false},
		{"4k", "4k", SelectName, false},
	} {
		s, err := ParseSelector(c.in)
		if err != nil || s.String() != c.want || s.Kind != c.kind || s.Pinned() != c.pinned {
			t.Errorf("%q: %+v %v", c.in, s, err)
		}
	}
	for _, bad := range []string{"/device1", "lab-a/", "a/b/c", "colour:red", "tag:"} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// fakeLab is a lab of two agents with two virtual devices each; lab-a's
// are tagged uhd. Its placer runs as many attempts at once as it has
// devices, the others wait in its queue until a device is free or they
// are withdrawn.
type fakeLab struct {
	f       *fakeExec
	devices []string
	free    chan string

	mu        sync.Mutex
	withdrawn map[string]string
}

func newFakeLab(f *fakeExec) *fakeLab {
	l := &fakeLab{f: f, devices: []string{"lab-a/device1", "lab-a/device2", "lab-b/device1", "lab-b/device2"},
		free: make(chan string, 4), withdrawn: map[string]string{}}
	for _, d := range l.devices {
		l.free <- d
	}
	return l
}

func (l *fakeLab) Resolve(selector, ui string) (string, []string, error) {
	sel, err := ParseSelector(selector)
	if err != nil {
		return "", nil, err
	}
	if sel.Kind == SelectName {
		sel.Kind = SelectModel
	}
	var out []string
	for _, d := range l.devices {
		switch {
		case sel.Kind == SelectDevice && d == sel.String(),
			sel.Kind == SelectTag && sel.Value == "uhd" && strings.HasPrefix(d, "lab-a/"),
			sel.Kind == SelectModel && sel.Value == "virtual", sel.Kind == SelectAuto:
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return "", nil, fmt.Errorf("no live agent serves %s", selector)
	}
	return sel.String(), out, nil
}

func (l *fakeLab) Withdraw(exec, reason string) {
	l.mu.Lock()
	l.withdrawn[exec] = reason
	l.mu.Unlock()
}

// Run takes a device that the selector allows (waiting for one) and
// plays the attempt there with the fake executor.
func (l *fakeLab) Run(ctx context.Context, req executor.Request) (*store.Result, error) {
	_, allowed, err := l.Resolve(req.DeviceID, "")
	if err != nil {
		return nil, err
	}
	for {
		l.mu.Lock()
		why := l.withdrawn[req.CampaignID]
		l.mu.Unlock()
		if why != "" {
			return nil, fmt.Errorf("%w (%s)", ErrWithdrawn, why)
		}
		select {
		case d := <-l.free:
			if !slices.Contains(allowed, d) {
				l.free <- d
				time.Sleep(time.Millisecond)
				continue
			}
			defer func() { l.free <- d }()
			agent, dev, _ := strings.Cut(d, "/")
			r := req
			r.DeviceID = dev
			res, err := l.f.Run(ctx, r)
			if res != nil {
				res.HostName = agent
			}
			if errors.Is(err, executor.ErrDevice) {
				err = &DeviceError{Device: d, Err: err}
			}
			return res, err
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func runPlaced(t *testing.T, yaml string, opts Options, f *fakeExec) (*Outcome, *fakeLab, error) {
	t.Helper()
	file := f.setUp(t, yaml)
	lab := newFakeLab(f)
	env := testEnv(t)
	env.Lab = lab
	plan, err := Prepare(file, env, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Placed || plan.Workers != len(plan.Entries) || len(plan.Pool) == 0 {
		t.Fatalf("plan: placed %v, %d workers for %d entries, pool %v", plan.Placed, plan.Workers, len(plan.Entries), plan.Pool)
	}
	r := &Runner{Exec: lab, Store: f.st, Observer: &memObserver{}, ResultsDir: t.TempDir(), TeamID: "t", HostName: "coordinator"}
	out, err := r.Run(context.Background(), plan, "")
	return out, lab, err
}

// Entries go where their selectors say; a retry is a new attempt; the
// campaign records the agent and device of each.
func TestPlacedRoutingAndRetries(t *testing.T) {
	f := &fakeExec{hold: 5 * time.Millisecond, behave: func(script, _ string, attempt int) (store.Status, error) {
		if script == "goto" && attempt == 1 {
			return store.StatusFailed, nil
		}
		return store.StatusPassed, nil
	}}
	out, _, err := runPlaced(t, `campaign_id: c
name: C
script_configurations:
  - {script_name: hello, device: "tag:uhd"}
  - {script_name: goto, parameters: {node: live}, retries: 1}
  - {script_name: zap, device: lab-b/device2}
  - {script_name: hello, device: virtual}
`, noOpts, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "passed,flaky,passed,passed" {
		t.Fatalf("statuses %s", got)
	}
	if d := out.Entries[0].Attempts[0].DeviceID; !strings.HasPrefix(d, "lab-a/") {
		t.Errorf("tag:uhd ran on %s", d)
	}
	if d := out.Entries[2].Attempts[0].DeviceID; d != "lab-b/device2" {
		t.Errorf("the pinned entry ran on %s", d)
	}
	if e := out.Entries[3].Entry; out.Entries[3].Attempts[0].DeviceID == "" || e.Device != "model:virtual" {
		t.Errorf("model entry: %+v", out.Entries[3])
	}
	if got := len(out.Entries[1].Attempts); got != 2 {
		t.Errorf("goto: %d attempts", got)
	}
}

// A device failure (an agent that died) sends the entry to another device
// without using a retry; a pinned entry has nowhere else to go.
func TestPlacedDeviceFailureRequeues(t *testing.T) {
	f := &fakeExec{hold: 5 * time.Millisecond, behave: func(script, device string, attempt int) (store.Status, error) {
		if attempt == 1 {
			return store.StatusAbandoned, fmt.Errorf("%w: agent stopped heartbeating", executor.ErrDevice)
		}
		return store.StatusPassed, nil
	}}
	out, _, err := runPlaced(t, `campaign_id: c
name: C
script_configurations:
  - {script_name: hello}
  - {script_name: zap, device: lab-b/device2}
`, noOpts, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "passed,error" {
		t.Fatalf("statuses %s", got)
	}
	first := out.Entries[0].Attempts
	if len(first) != 2 || !first[0].Requeued || first[1].Requeued {
		t.Fatalf("attempts of the auto entry: %+v", first)
	}
	if len(out.DevicesDown) != 2 || out.DevicesDown["lab-b/device2"] == "" {
		t.Fatalf("devices down: %v", out.DevicesDown)
	}
}

// max-failures stops a placed campaign: the attempts no device took are
// withdrawn and recorded not run.
//
// zap fails at once on its own device while the three hellos queue for
// another, the first of them holding it long after: the other two are
// waiting for it when the campaign stops. (With all four queued for one
// device, which of them took it first was chance, and so was the count.)
func TestPlacedMaxFailuresWithdraws(t *testing.T) {
	f := &fakeExec{hold: time.Millisecond, behave: func(script, _ string, _ int) (store.Status, error) {
		if script == "zap" {
			return store.StatusFailed, nil
		}
		time.Sleep(300 * time.Millisecond) // on the device
		return store.StatusPassed, nil
	}}
	out, lab, err := runPlaced(t, `campaign_id: c
name: C
device: lab-a/device1
script_configurations:
  - {script_name: zap}
  - {script_name: hello, device: lab-a/device2}
  - {script_name: hello, device: lab-a/device2}
  - {script_name: hello, device: lab-a/device2}
`, Options{Retries: -1, MaxFailures: 1}, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(lab.withdrawn) != 1 {
		t.Fatalf("withdrawn: %v", lab.withdrawn)
	}
	failed, notRun := 0, 0
	for _, e := range out.Entries {
		switch e.Status {
		case store.StatusFailed:
			failed++
		case store.StatusNotRun:
			notRun++
			if !strings.Contains(e.Attempts[0].Error, "withdrawn") {
				t.Errorf("not run: %q", e.Attempts[0].Error)
			}
		}
	}
	if failed != 1 || notRun != 2 || len(f.ran()) != 2 {
		t.Fatalf("statuses %s, ran %v", statuses(out), f.ran())
	}
}

// A selector no device of the lab serves is a problem of the file, with
// its line, before anything runs.
func TestPlacedSelectorProblems(t *testing.T) {
	file, err := Parse("c.yaml", []byte("campaign_id: c\nname: C\nscript_configurations:\n  - {script_name: hello, device: lab-z/device1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t)
	env.Lab = newFakeLab(&fakeExec{})
	_, err = Prepare(file, env, noOpts)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "c.yaml:4:") || !strings.Contains(err.Error(), "no live agent serves lab-z/device1") {
		t.Fatalf("%v", err)
	}
	_, err = Prepare(file, env, Options{Retries: -1, Devices: []string{"a", "b"}})
	if err == nil || !strings.Contains(err.Error(), "one selector") {
		t.Fatalf("two --device selectors: %v", err)
	}
}
