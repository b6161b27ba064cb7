package campaign

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/store"
	_ "github.com/vpt-dev/vpt/store/sqlite"
)

// fakeExec plays scripts: behave says what the n-th attempt of a script on
// a device does (a status, or an error).
type fakeExec struct {
	t      *testing.T
	st     store.Store
	behave func(script, device string, attempt int) (store.Status, error)
	hold   time.Duration // how long a run lasts

	mu   sync.Mutex
	runs []string // "script@device#attempt", in start order
}

func (f *fakeExec) Run(ctx context.Context, req executor.Request) (*store.Result, error) {
	f.mu.Lock()
	f.runs = append(f.runs, fmt.Sprintf("%s@%s#%d", req.Script.Name, req.DeviceID, req.Attempt))
	f.mu.Unlock()
	status, err := f.behave(req.Script.Name, req.DeviceID, req.Attempt)
	if err != nil && !errors.Is(err, executor.ErrDevice) {
		return nil, err // nothing recorded: the run could not start
	}
	res := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: req.Script.Name, ScriptType: req.Script.Name,
		HostName: "h", DeviceID: req.DeviceID, DeviceName: req.DeviceID, Status: store.StatusRunning, StartedAt: time.Now().UTC(),
		HeartbeatAt: time.Now().UTC()}
	if err := f.st.CreateResult(ctx, res); err != nil {
		return nil, err
	}
	if req.Started != nil {
		req.Started(res)
	}
	select {
	case <-time.After(f.hold):
	case <-ctx.Done():
		status, err = store.StatusInterrupted, nil
	}
	if !req.Deadline.IsZero() && time.Now().After(req.Deadline) && status == store.StatusPassed {
		status = store.StatusTimeout
	}
	end := time.Now().UTC()
	res.Status, res.CompletedAt, res.Success = status, &end, status == store.StatusPassed
	if err != nil {
		res.Status, res.ErrorMsg = store.StatusError, err.Error()
	}
	f.t.Helper()
	if uerr := f.st.UpdateResult(context.Background(), res); uerr != nil {
		f.t.Fatal(uerr)
	}
	return res, err
}

func (f *fakeExec) ran() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.runs...)
}

type memObserver struct {
	mu      sync.Mutex
	down    []string
	stopped []string
	// finals: the entries told their end, by index, with their status.
	finals map[int]store.Status
	// onEnd, when set, hears of every attempt's end first.
	onEnd func(AttemptEnd)
}

func (o *memObserver) Started(*Plan, *store.Campaign)          {}
func (o *memObserver) EntryStarted(*PlannedEntry, int, string) {}
func (o *memObserver) EntryFinished(e *PlannedEntry, end AttemptEnd) {
	if o.onEnd != nil {
		o.onEnd(end)
	}
	if !end.Final {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.finals == nil {
		o.finals = map[int]store.Status{}
	}
	if _, twice := o.finals[e.Index]; twice {
		o.stopped = append(o.stopped, fmt.Sprintf("entry %d ended twice", e.Index))
	}
	o.finals[e.Index] = end.Status
}
func (o *memObserver) Waiting(string)         {}
func (o *memObserver) DeviceDown(d, _ string) { o.mu.Lock(); o.down = append(o.down, d); o.mu.Unlock() }
func (o *memObserver) Stopping(r string) {
	o.mu.Lock()
	o.stopped = append(o.stopped, r)
	o.mu.Unlock()
}

// setUp gives the fake a fresh SQLite store and parses the campaign.
func (f *fakeExec) setUp(t *testing.T, yaml string) *File {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.t, f.st = t, st
	file, err := Parse("c.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// runFake plans yaml against the examples and runs it with the fake.
func runFake(t *testing.T, yaml string, opts Options, f *fakeExec) (*Outcome, *memObserver, error) {
	t.Helper()
	file := f.setUp(t, yaml)
	plan, err := Prepare(file, testEnv(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	obs := &memObserver{}
	r := &Runner{Exec: f, Store: f.st, Observer: obs, ResultsDir: t.TempDir(), TeamID: "t", HostName: "h"}
	out, err := r.Run(context.Background(), plan, "")
	return out, obs, err
}

func statuses(out *Outcome) string {
	var s []string
	for _, e := range out.Entries {
		s = append(s, string(e.Status))
	}
	return strings.Join(s, ",")
}

func passAll(string, string, int) (store.Status, error) { return store.StatusPassed, nil }

const threeEntries = `campaign_id: c
name: C
device: device1
script_configurations:
  - {script_name: hello}
  - {script_name: goto, parameters: {node: live}}
  - {script_name: zap}
`

func TestRetriesAndFlaky(t *testing.T) {
	f := &fakeExec{behave: func(script, _ string, attempt int) (store.Status, error) {
		switch {
		case script == "goto" && attempt == 1:
			return store.StatusFailed, nil
		case script == "zap":
			return store.StatusFailed, nil
		}
		return store.StatusPassed, nil
	}}
	out, _, err := runFake(t, threeEntries, Options{Retries: 1}, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "passed,flaky,failed" {
		t.Fatalf("statuses %s", got)
	}
	if n := len(f.ran()); n != 5 {
		t.Fatalf("%d runs, want 5 (zap and goto retried once): %v", n, f.ran())
	}
	if out.Verdict() != VerdictFailed || out.Campaign.Status != StatusFailed {
		t.Fatalf("verdict %s, status %s", out.Verdict(), out.Campaign.Status)
	}
	out.FailOnFlaky = false
	out.Entries[2].Status = store.StatusPassed
	if out.Verdict() != VerdictPassed {
		t.Fatal("flaky counts as passed without --fail-on-flaky")
	}
	out.FailOnFlaky = true
	if out.Verdict() != VerdictFailed {
		t.Fatal("flaky fails with --fail-on-flaky")
	}
}

func TestMaxFailuresStops(t *testing.T) {
	f := &fakeExec{behave: func(string, string, int) (store.Status, error) { return store.StatusFailed, nil }}
	out, obs, err := runFake(t, threeEntries, Options{Retries: -1, MaxFailures: 1}, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "failed,not_run,not_run" || len(obs.stopped) != 1 {
		t.Fatalf("statuses %s, stops %v", got, obs.stopped)
	}
}

func TestDeadlineStopsTheQueue(t *testing.T) {
	f := &fakeExec{behave: passAll, hold: 2 * time.Second}
	yaml := strings.Replace(threeEntries, "device: device1\n", "device: device1\nexecution_config: {timeout_minutes: 0.02}\n", 1)
	out, _, err := runFake(t, yaml, Options{Retries: -1}, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "timeout,not_run,not_run" || !out.TimedOut || out.Verdict() != VerdictTimeout {
		t.Fatalf("statuses %s timed out %v verdict %s", got, out.TimedOut, out.Verdict())
	}
}

func TestInterruptStopsTheQueue(t *testing.T) {
	st, _ := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "vpt.db"))
	defer st.Close()
	f := &fakeExec{t: t, st: st, behave: passAll, hold: time.Hour}
	file, _ := Parse("c.yaml", []byte(threeEntries))
	plan, _ := Prepare(file, testEnv(t), Options{Retries: -1})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	out, err := (&Runner{Exec: f, Store: st, ResultsDir: t.TempDir()}).Run(ctx, plan, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "interrupted,not_run,not_run" || out.Verdict() != VerdictInterrupted || out.Campaign.Status != StatusCancelled {
		t.Fatalf("statuses %s verdict %s status %s", got, out.Verdict(), out.Campaign.Status)
	}
}

// A device whose run fails as a device leaves the pool; its entry goes to
// another device, and that costs no retry nor makes the entry flaky.
func TestDeadDeviceLeavesThePool(t *testing.T) {
	f := &fakeExec{behave: func(_, device string, _ int) (store.Status, error) {
		if device == "device2" {
			return "", fmt.Errorf("%w: device2: no answer", executor.ErrDevice)
		}
		return store.StatusPassed, nil
	}, hold: 20 * time.Millisecond}
	yaml := `campaign_id: c
name: C
device: [device1, device2]
execution_config: {parallel: true}
script_configurations:
  - {script_name: hello}
  - {script_name: hello}
  - {script_name: hello}
  - {script_name: hello}
`
	out, obs, err := runFake(t, yaml, Options{Retries: -1}, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "passed,passed,passed,passed" {
		t.Fatalf("statuses %s, runs %v", got, f.ran())
	}
	if len(obs.down) != 1 || obs.down[0] != "device2" || out.DevicesDown["device2"] == "" {
		t.Fatalf("down %v %v", obs.down, out.DevicesDown)
	}
	if out.Verdict() != VerdictPassed {
		t.Fatalf("verdict %s", out.Verdict())
	}
	// A pinned entry on the dead device has nowhere else to go.
	yaml = strings.Replace(yaml, "  - {script_name: hello}\n  - {script_name: hello}\n  - {script_name: hello}\n",
		"  - {script_name: hello, device: device2}\n", 1)
	out, _, _ = runFake(t, yaml, Options{Retries: 2}, f)
	if got := statuses(out); got != "error,passed" {
		t.Fatalf("statuses %s, runs %v", got, f.ran())
	}
}

// An entry its device failed goes back to the queue; when the campaign is
// interrupted before another device takes it, it ends not run, and the
// person watching hears of its end as of every other entry's.
func TestRequeuedEntryEndsWhenTheCampaignStops(t *testing.T) {
	f := &fakeExec{behave: func(_, device string, _ int) (store.Status, error) {
		if device == "device1" {
			return "", fmt.Errorf("%w: device1: no answer", executor.ErrDevice)
		}
		return store.StatusPassed, nil
	}}
	yaml := `campaign_id: c
name: C
device: [device1, device2]
script_configurations:
  - {script_name: hello}
  - {script_name: zap}
`
	file := f.setUp(t, yaml)
	plan, err := Prepare(file, testEnv(t), Options{Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	obs := &memObserver{onEnd: func(end AttemptEnd) {
		if end.Requeued {
			cancel() // Ctrl-C, as the entry goes back to the queue
		}
	}}
	r := &Runner{Exec: f, Store: f.st, Observer: obs, ResultsDir: t.TempDir(), TeamID: "t", HostName: "h"}
	out, err := r.Run(ctx, plan, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "not_run,not_run" || !out.Interrupted {
		t.Fatalf("statuses %s, interrupted %v, runs %v", got, out.Interrupted, f.ran())
	}
	want := map[int]store.Status{0: store.StatusNotRun, 1: store.StatusNotRun}
	if fmt.Sprint(obs.finals) != fmt.Sprint(want) || len(obs.stopped) != 1 || obs.stopped[0] != "interrupted" {
		t.Fatalf("ends told %v (want %v), stops %q", obs.finals, want, obs.stopped)
	}
}

// A store that stops answering: the campaign waits for it (bounded),
// instead of burning its queue.
func TestStoreOutageIsWaitedFor(t *testing.T) {
	var mu sync.Mutex
	down := true
	time.AfterFunc(700*time.Millisecond, func() { mu.Lock(); down = false; mu.Unlock() })
	f := &fakeExec{behave: func(string, string, int) (store.Status, error) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return "", fmt.Errorf("%w: connection refused", store.ErrUnavailable)
		}
		return store.StatusPassed, nil
	}}
	out, _, err := runFake(t, threeEntries, Options{Retries: -1}, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(out); got != "passed,passed,passed" {
		t.Fatalf("statuses %s", got)
	}
}
