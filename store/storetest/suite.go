// Package storetest is the conformance suite every store.Store
// implementation passes: one body of tests, run against SQLite and
// PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// Opener returns a fresh, empty store. Calling it twice in one test must
// return two handles on the same database (as two processes would have).
type Opener func(t *testing.T) (open func() store.Store)

// Run runs the whole suite.
func Run(t *testing.T, newDB Opener) {
	t.Run("CreateGetUpdate", func(t *testing.T) { testCreateGetUpdate(t, newDB(t)()) })
	t.Run("Prefix", func(t *testing.T) { testPrefix(t, newDB(t)()) })
	t.Run("List", func(t *testing.T) { testList(t, newDB(t)()) })
	t.Run("Stats", func(t *testing.T) { testStats(t, newDB(t)()) })
	t.Run("Abandoned", func(t *testing.T) { testAbandoned(t, newDB(t)()) })
	t.Run("Campaign", func(t *testing.T) { testCampaign(t, newDB(t)()) })
	t.Run("RunningCampaigns", func(t *testing.T) { testRunningCampaigns(t, newDB(t)()) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, newDB(t)) })
	runEvents(t, newDB)
	runHistory(t, newDB)
}

// NewID is store.NewID.
var NewID = store.NewID

var base = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func newResult(script string, at time.Time) *store.Result {
	return &store.Result{
		ID: NewID(), TeamID: "7fdeb4bb-3639-4ec3-959f-b54769a219ce",
		ScriptName: script, ScriptType: script, ScriptPath: "/scripts/" + script + ".py",
		Parameters: []string{"--node", "live"}, HostName: "host-a",
		DeviceID: "device1", DeviceName: "Virtual STB", DeviceModel: "virtual",
		Status: store.StatusRunning, StartedAt: at, RunDir: "runs/x", PID: 42, PIDStart: 7,
		HeartbeatAt: at,
	}
}

func finish(r *store.Result, status store.Status, d time.Duration) {
	end := r.StartedAt.Add(d)
	r.CompletedAt = &end
	r.Status = status
	r.Success = status == store.StatusPassed
	r.ExecutionTimeMs = d.Milliseconds()
	code := 0
	if !r.Success {
		code = 1
	}
	r.ExitCode = &code
}

func testCreateGetUpdate(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	r := newResult("goto", base)
	if err := s.CreateResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetResult(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusRunning || got.CompletedAt != nil || got.ExitCode != nil {
		t.Fatalf("new row: status %q completed %v exit %v", got.Status, got.CompletedAt, got.ExitCode)
	}
	if !got.StartedAt.Equal(base) || got.ScriptName != "goto" || len(got.Parameters) != 2 || got.PID != 42 {
		t.Fatalf("round trip: %+v", got)
	}
	finish(r, store.StatusFailed, 1500*time.Millisecond)
	r.ErrorMsg = "Node 'x' not found"
	r.Metadata = map[string]any{"info": map[string]any{"version": "1.2"}}
	r.Details = store.Details{
		Summary: "zapped 3 channels",
		Steps: []store.Step{{Number: 1, Name: "home → live", Status: store.StatusFailed, Error: "verification failed",
			Actions: []store.Action{{Command: "press_key", Params: map[string]string{"key": "OK"}, Passed: true}}}},
		Screenshots: []store.Screenshot{{Label: "initial", Path: "screenshots/001-initial.png"}},
	}
	r.UploadStatus = store.UploadPending
	if err := s.UpdateResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetResult(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusFailed || got.Success || got.CompletedAt == nil || *got.ExitCode != 1 {
		t.Fatalf("finished row: %+v", got)
	}
	if !got.CompletedAt.Equal(base.Add(1500*time.Millisecond)) || got.ExecutionTimeMs != 1500 {
		t.Fatalf("completed_at %v, time %d", got.CompletedAt, got.ExecutionTimeMs)
	}
	if got.Details.Summary != "zapped 3 channels" || len(got.Details.Steps) != 1 ||
		got.Details.Steps[0].Actions[0].Params["key"] != "OK" || got.UploadStatus != store.UploadPending {
		t.Fatalf("details: %+v", got.Details)
	}
	if info, _ := got.Metadata["info"].(map[string]any); info["version"] != "1.2" {
		t.Fatalf("metadata: %v", got.Metadata)
	}
	// What the creation recorded of who ran what, where and when stays.
	moved := *r
	moved.ScriptName, moved.DeviceID, moved.HostName, moved.RunDir = "other", "device9", "host-z", "runs/y"
	moved.StartedAt, moved.PID = base.Add(time.Hour), 99
	if err := s.UpdateResult(ctx, &moved); err != nil {
		t.Fatal(err)
	}
	if got, err = s.GetResult(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if got.ScriptName != "goto" || got.DeviceID != "device1" || got.HostName != "host-a" || got.RunDir != "runs/x" ||
		!got.StartedAt.Equal(base) || got.PID != 42 || got.Status != store.StatusFailed {
		t.Fatalf("an update changed what the creation fixed: %+v", got)
	}
	missing := newResult("x", base)
	if err := s.UpdateResult(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing row: %v", err)
	}
	if _, err := s.GetResult(ctx, "ffffffff-0000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if err := s.DeleteResult(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetResult(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.DeleteResult(ctx, r.ID); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

func testPrefix(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	a := newResult("a", base)
	a.ID = "abc12345-0000-4000-8000-000000000001"
	b := newResult("b", base)
	b.ID = "abc12399-0000-4000-8000-000000000002"
	for _, r := range []*store.Result{a, b} {
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.GetResult(ctx, "abc123"); !errors.Is(err, store.ErrAmbiguous) {
		t.Fatalf("ambiguous prefix: %v %v", got, err)
	}
	if got, err := s.GetResult(ctx, "abc1234"); err != nil || got.ID != a.ID {
		t.Fatalf("unique prefix: %v %v", got, err)
	}
	if got, err := s.GetResult(ctx, b.ID); err != nil || got.ID != b.ID {
		t.Fatalf("full id: %v %v", got, err)
	}
}

func testList(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	var ids []string
	for i := 0; i < 6; i++ {
		script := "goto"
		if i%2 == 1 {
			script = "zap"
		}
		r := newResult(script, base.Add(time.Duration(i)*time.Minute))
		if i == 5 {
			r.DeviceID = "device2"
		}
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
		status := store.StatusPassed
		if i == 2 {
			status = store.StatusFailed
		}
		if i < 5 {
			finish(r, status, time.Second)
			if err := s.UpdateResult(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, r.ID)
	}
	all, err := s.ListResults(ctx, store.ResultFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 || all[0].ID != ids[5] || all[5].ID != ids[0] {
		t.Fatalf("newest first: got %d rows", len(all))
	}
	cases := []struct {
		name string
		f    store.ResultFilter
		want []string
	}{
		{"script", store.ResultFilter{Script: "zap"}, []string{ids[5], ids[3], ids[1]}},
		{"status", store.ResultFilter{Statuses: []store.Status{store.StatusFailed}}, []string{ids[2]}},
		{"device", store.ResultFilter{Device: "device2"}, []string{ids[5]}},
		{"since", store.ResultFilter{Since: base.Add(4 * time.Minute)}, []string{ids[5], ids[4]}},
		{"limit", store.ResultFilter{Limit: 2}, []string{ids[5], ids[4]}},
		{"running", store.ResultFilter{Statuses: []store.Status{store.StatusRunning}}, []string{ids[5]}},
	}
	for _, c := range cases {
		got, err := s.ListResults(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, r := range got {
			gotIDs = append(gotIDs, r.ID)
		}
		if fmt.Sprint(gotIDs) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, gotIDs, c.want)
		}
	}
}

func testStats(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	// steady: always passes when its device answers (an error is the
	// device's, not the script's); wobbly: pass, fail, pass, fail.
	for i, st := range []store.Status{store.StatusPassed, store.StatusError, store.StatusPassed, store.StatusError, store.StatusPassed} {
		r := newResult("steady", base.Add(time.Duration(i)*time.Minute))
		finish(r, st, time.Second)
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for i, st := range []store.Status{store.StatusPassed, store.StatusFailed, store.StatusPassed, store.StatusFailed} {
		r := newResult("wobbly", base.Add(time.Duration(i)*time.Minute))
		finish(r, st, time.Second)
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := s.ScriptStats(ctx, []string{"steady", "wobbly", "never"}, 20)
	if err != nil {
		t.Fatal(err)
	}
	if st := stats["steady"]; st.Runs != 3 || st.PassRate() != 1 || st.Flaky() {
		t.Errorf("steady: %+v", st)
	}
	if st := stats["wobbly"]; st.Runs != 4 || st.PassRate() != 0.5 || !st.Flaky() {
		t.Errorf("wobbly: %+v", st)
	}
	if st := stats["never"]; st.Runs != 0 || st.PassRate() != -1 {
		t.Errorf("never: %+v", st)
	}
	// The window counts the newest runs of each script, of many scripts
	// at once (more than one query's worth), and leaves running ones out.
	var many []string
	for i := range 230 {
		name := fmt.Sprintf("many_%03d", i)
		many = append(many, name)
		for j, st := range []store.Status{store.StatusFailed, store.StatusPassed, store.StatusPassed, store.StatusRunning} {
			r := newResult(name, base.Add(time.Duration(j)*time.Minute))
			if st != store.StatusRunning {
				finish(r, st, time.Second)
			}
			if err := s.CreateResult(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if stats, err = s.ScriptStats(ctx, many, 2); err != nil {
		t.Fatal(err)
	}
	for _, name := range many {
		if st := stats[name]; st.Runs != 2 || st.Passed != 2 {
			t.Fatalf("%s, window 2: %+v", name, st)
		}
	}
}

func testAbandoned(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	alive := newResult("alive", base)
	dead := newResult("dead", base)
	dead.Owner = "boot/1/43/99"
	done := newResult("done", base)
	finish(done, store.StatusPassed, time.Second)
	for _, r := range []*store.Result{alive, dead, done} {
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	running, err := s.RunningResults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 2 {
		t.Fatalf("%d running rows, want 2", len(running))
	}
	for _, r := range running {
		if r.ID == dead.ID && r.Owner != dead.Owner {
			t.Fatalf("owner %q, want %q", r.Owner, dead.Owner)
		}
	}
	dead.Status, dead.ErrorMsg = store.StatusAbandoned, "gone"
	changed, err := s.FinishResult(ctx, dead)
	if err != nil || !changed {
		t.Fatalf("finish: %v %v", changed, err)
	}
	r, err := s.GetResult(ctx, dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusAbandoned || r.ErrorMsg != "gone" {
		t.Fatalf("abandoned row: %+v", r)
	}
	// Only a running row is finished: another process got there first.
	dead.Status = store.StatusPassed
	if changed, err := s.FinishResult(ctx, dead); err != nil || changed {
		t.Fatalf("finish twice: %v %v", changed, err)
	}
	if changed, err := s.FinishResult(ctx, done); err != nil || changed {
		t.Fatalf("finish of a finished row: %v %v", changed, err)
	}
	if r, _ := s.GetResult(ctx, alive.ID); r.Status != store.StatusRunning {
		t.Fatalf("live row changed to %s", r.Status)
	}
}

func testCampaign(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	c := &store.Campaign{
		ID: NewID(), ExecutionID: "campaign_exec_1700000000_abcdef12", TeamID: "t", Name: "Nightly",
		CampaignID: "nightly", HostName: "host-a", DeviceName: "auto", Status: "running", StartedAt: base,
		ScriptConfigurations: []any{map[string]any{"script_name": "goto"}}, ExecutionConfig: map[string]any{"parallel": true},
		ShardTotal: 2,
	}
	joined, err := s.CreateCampaign(ctx, c)
	if err != nil || joined {
		t.Fatalf("create: joined=%v err=%v", joined, err)
	}
	other := &store.Campaign{ID: NewID(), ExecutionID: c.ExecutionID, TeamID: "t", Name: "Nightly",
		HostName: "host-b", DeviceName: "auto", Status: "running", StartedAt: base.Add(time.Second)}
	joined, err = s.CreateCampaign(ctx, other)
	if err != nil || !joined || other.ID != c.ID {
		t.Fatalf("second shard should join: joined=%v id=%s err=%v", joined, other.ID, err)
	}
	r := newResult("goto", base)
	finish(r, store.StatusPassed, time.Second)
	if err := s.CreateResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	entries := []store.CampaignEntry{
		{CampaignID: c.ID, Index: 0, Attempt: 1, ScriptName: "goto", DeviceID: "device1", Status: store.StatusFailed, StartedAt: base},
		{CampaignID: c.ID, Index: 0, Attempt: 2, ScriptName: "goto", DeviceID: "device1", Status: store.StatusPassed, ScriptResultID: r.ID, StartedAt: base},
		{CampaignID: c.ID, Index: 1, Attempt: 1, Shard: 1, ScriptName: "zap", Status: store.StatusNotRun, StartedAt: base},
	}
	for _, e := range entries {
		if err := s.PutCampaignEntry(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing an attempt is an upsert.
	entries[0].Error = "exit code 1"
	if err := s.PutCampaignEntry(ctx, entries[0]); err != nil {
		t.Fatal(err)
	}
	end := base.Add(time.Minute)
	c.Status, c.CompletedAt, c.Success = "completed", &end, true
	c.Stats = store.CampaignStats{Total: 2, Completed: 1, Flaky: 1, NotRun: 1}
	if err := s.UpdateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	if done, err := s.FinishShard(ctx, c.ID, 1, "completed", "host-b"); err != nil || fmt.Sprint(done) != "[{1 completed}]" {
		t.Fatalf("first shard: %v %v", done, err)
	}
	if done, err := s.FinishShard(ctx, c.ID, 0, "failed", "host-a"); err != nil || fmt.Sprint(done) != "[{0 failed} {1 completed}]" {
		t.Fatalf("second shard: %v %v", done, err)
	}
	got, ents, err := s.GetCampaign(ctx, c.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "completed" || got.Stats.Flaky != 1 || len(got.ShardsDone) != 2 || got.CompletedAt == nil {
		t.Fatalf("campaign: %+v", got)
	}
	if len(ents) != 3 || ents[0].Error != "exit code 1" || ents[1].ScriptResultID != r.ID || ents[2].Status != store.StatusNotRun {
		t.Fatalf("entries: %+v", ents)
	}
	if got2, _, err := s.GetCampaign(ctx, c.ID[:8]); err != nil || got2.ID != c.ID {
		t.Fatalf("by prefix: %v", err)
	}
	linked, err := s.ListResults(ctx, store.ResultFilter{Campaign: c.ExecutionID})
	if err != nil || len(linked) != 1 || linked[0].ID != r.ID {
		t.Fatalf("results of campaign: %v %v", linked, err)
	}
	testCampaignResults(t, s, c.ID, c.ExecutionID, r)
	list, err := s.ListCampaigns(ctx, store.CampaignFilter{Name: "night"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list campaigns: %v %v", list, err)
	}
	// Deleting a linked result unlinks it; the attempt stays.
	if err := s.DeleteResult(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, after, err := s.GetCampaign(ctx, c.ID); err != nil || len(after) < 2 || after[1].ScriptResultID != "" || after[1].Status != store.StatusPassed {
		t.Fatalf("after deleting a result, its campaign's attempts: %+v %v", after, err)
	}
	if err := s.DeleteCampaign(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.GetCampaign(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted campaign: %v", err)
	}
}

// testCampaignResults: one read gives the linked results whole, by the
// campaign's id or its execution id, and leaves out what was deleted since.
func testCampaignResults(t *testing.T, s store.Store, campaignID, executionID string, linked *store.Result) {
	t.Helper()
	ctx := context.Background()
	pruned := newResult("zap", base.Add(time.Minute))
	finish(pruned, store.StatusFailed, time.Second)
	pruned.Details = store.Details{Summary: "zapped", Steps: []store.Step{{Number: 1, Name: "zap", Status: store.StatusFailed}}}
	// A campaign re-renders the run reports of entries with several
	// attempts from these results: their metadata must be there.
	pruned.Metadata = map[string]any{"firmware": "1.2.3"}
	if err := s.CreateResult(ctx, pruned); err != nil {
		t.Fatal(err)
	}
	e := store.CampaignEntry{CampaignID: campaignID, Index: 1, Attempt: 2, ScriptName: "zap", Status: store.StatusFailed,
		ScriptResultID: pruned.ID, StartedAt: base}
	if err := s.PutCampaignEntry(ctx, e); err != nil {
		t.Fatal(err)
	}
	unrelated := newResult("other", base)
	if err := s.CreateResult(ctx, unrelated); err != nil {
		t.Fatal(err)
	}
	// Ids at both ends and one that is no UUID, linked from entries of
	// even and odd index: a read in parts (sqlstore reads the entries of
	// even and odd index at once) loses none. The last is linked from a
	// second entry too, and given once.
	indices := []int{10, 11, 13}
	for i, id := range []string{"00000000-0000-4000-8000-000000000001", "ffffffff-0000-4000-8000-000000000001", "Zed-1"} {
		r := newResult("edge", base)
		r.ID = id
		r.Metadata = map[string]any{"device_id": "device1", "python": map[string]any{"path": "/usr/bin/python3", "version": "3.11.2"},
			"tags": []any{"smoke"}}
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, index := range []int{indices[i], 12} {
			if index == 12 && id != "Zed-1" {
				continue
			}
			e := store.CampaignEntry{CampaignID: campaignID, Index: index, Attempt: 1, ScriptName: "edge", Status: store.StatusRunning,
				ScriptResultID: id, StartedAt: base}
			if err := s.PutCampaignEntry(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.CampaignResults(ctx, campaignID)
	if err != nil || len(got) != 5 {
		t.Fatalf("campaign results: %d %v", len(got), err)
	}
	byID := map[string]store.Result{}
	for _, r := range got {
		byID[r.ID] = r
	}
	for _, id := range []string{"00000000-0000-4000-8000-000000000001", "ffffffff-0000-4000-8000-000000000001", "Zed-1"} {
		if byID[id].ScriptName != "edge" {
			t.Fatalf("result %s missing from the campaign's results", id)
		}
	}
	// Results of the same metadata each have their own.
	changed := byID["Zed-1"].Metadata
	changed["device_id"] = "changed"
	changed["python"].(map[string]any)["path"] = "changed"
	changed["tags"].([]any)[0] = "changed"
	for _, id := range []string{"00000000-0000-4000-8000-000000000001", "ffffffff-0000-4000-8000-000000000001"} {
		if m := byID[id].Metadata; m["device_id"] != "device1" ||
			m["python"].(map[string]any)["path"] != "/usr/bin/python3" || m["tags"].([]any)[0] != "smoke" {
			t.Fatalf("changing one result's metadata changed another's: %v", m)
		}
	}
	byExecution, err := s.CampaignResults(ctx, executionID)
	if err != nil || len(byExecution) != len(got) {
		t.Fatalf("campaign results by execution id: %d %v", len(byExecution), err)
	}
	if byID[linked.ID].Status != store.StatusPassed || byID[pruned.ID].Details.Summary != "zapped" ||
		len(byID[pruned.ID].Details.Steps) != 1 || byID[pruned.ID].Metadata["firmware"] != "1.2.3" {
		t.Fatalf("campaign results not whole: %+v", got)
	}
	if err := s.DeleteResult(ctx, pruned.ID); err != nil {
		t.Fatal(err)
	}
	got, err = s.CampaignResults(ctx, campaignID)
	if err != nil || len(got) != 4 {
		t.Fatalf("after a prune: %v %v", got, err)
	}
	for _, r := range got {
		if r.ID == pruned.ID {
			t.Fatal("a pruned result is among the campaign's results")
		}
	}
	if none, err := s.CampaignResults(ctx, NewID()); err != nil || len(none) != 0 {
		t.Fatalf("unknown campaign: %v %v", none, err)
	}
}

func testRunningCampaigns(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	c := &store.Campaign{ID: NewID(), ExecutionID: "campaign_exec_1_running", TeamID: "t", Name: "N", HostName: "h",
		DeviceName: "auto", Status: "running", StartedAt: base, ShardTotal: 1, Owner: "boot/1/2/3"}
	if _, err := s.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	beat := base.Add(time.Hour)
	if err := s.HeartbeatCampaign(ctx, c.ID, "boot/1/7/8", beat); err != nil {
		t.Fatal(err)
	}
	running, err := s.RunningCampaigns(ctx)
	if err != nil || len(running) != 1 {
		t.Fatalf("running: %v %v", running, err)
	}
	if got := running[0]; got.Owner != "boot/1/7/8" || !got.HeartbeatAt.Equal(beat) {
		t.Fatalf("heartbeat not recorded: %q %s", got.Owner, got.HeartbeatAt)
	}
	c.Status = "abandoned"
	if changed, err := s.FinishCampaign(ctx, c); err != nil || !changed {
		t.Fatalf("finish: %v %v", changed, err)
	}
	if changed, err := s.FinishCampaign(ctx, c); err != nil || changed {
		t.Fatalf("finish twice: %v %v", changed, err)
	}
	if running, _ := s.RunningCampaigns(ctx); len(running) != 0 {
		t.Fatalf("still running: %+v", running)
	}
}

// testConcurrent writes from several independent handles at once, as
// several vpt processes would.
func testConcurrent(t *testing.T, open func() store.Store) {
	const writers, each = 4, 40
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := open()
			defer s.Close()
			for i := 0; i < each; i++ {
				r := newResult(fmt.Sprintf("w%d", w), base.Add(time.Duration(i)*time.Second))
				if err := s.CreateResult(ctx, r); err != nil {
					errs <- err
					return
				}
				finish(r, store.StatusPassed, time.Second)
				if err := s.UpdateResult(ctx, r); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := open()
	defer s.Close()
	all, err := s.ListResults(ctx, store.ResultFilter{Statuses: []store.Status{store.StatusPassed}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each {
		t.Fatalf("got %d rows, want %d", len(all), writers*each)
	}
}
