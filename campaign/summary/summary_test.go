package summary

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/sqlite"
)

func TestFinalStatus(t *testing.T) {
	a := func(s store.Status) store.CampaignEntry { return store.CampaignEntry{Status: s} }
	requeued := store.CampaignEntry{Status: store.StatusError, Requeued: true}
	for _, c := range []struct {
		attempts []store.CampaignEntry
		want     store.Status
	}{
		{nil, store.StatusNotRun},
		{[]store.CampaignEntry{a(store.StatusNotRun)}, store.StatusNotRun},
		{[]store.CampaignEntry{a(store.StatusPassed)}, store.StatusPassed},
		{[]store.CampaignEntry{a(store.StatusFailed), a(store.StatusPassed)}, store.StatusFlaky},
		{[]store.CampaignEntry{a(store.StatusTimeout), a(store.StatusFailed)}, store.StatusFailed},
		{[]store.CampaignEntry{a(store.StatusPassed), a(store.StatusFailed)}, store.StatusFailed},
		// A device that failed under the entry makes it neither failed nor flaky.
		{[]store.CampaignEntry{requeued, a(store.StatusPassed)}, store.StatusPassed},
		{[]store.CampaignEntry{a(store.StatusFailed), a(store.StatusNotRun)}, store.StatusFailed},
	} {
		if got := FinalStatus(c.attempts); got != c.want {
			t.Errorf("%+v: %s, want %s", c.attempts, got, c.want)
		}
	}
}

func TestBuildAndStats(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	c := &store.Campaign{ID: "c", StartedAt: t0}
	entries := []store.CampaignEntry{
		{Index: 1, Attempt: 1, ScriptName: "zap", Status: store.StatusNotRun},
		{Index: 0, Attempt: 2, ScriptName: "goto", DeviceID: "d2", Status: store.StatusPassed, StartedAt: t0.Add(3 * time.Second), DurationMs: 500, ScriptResultID: "r2"},
		{Index: 0, Attempt: 1, ScriptName: "goto", DeviceID: "d1", Status: store.StatusFailed, StartedAt: t0.Add(time.Second), DurationMs: 1000, ScriptResultID: "pruned"},
	}
	results := map[string]*store.Result{"r2": {ID: "r2", RunDir: "/runs/r2"}}
	sum := Build(c, entries, results, func(r *store.Result) string { return "link:" + r.ID })
	if len(sum.Entries) != 2 || sum.Schema != Schema {
		t.Fatalf("%+v", sum)
	}
	if entries[0].Index != 1 || entries[1].Attempt != 2 {
		t.Fatalf("Build reordered the caller's attempts: %+v", entries)
	}
	e := sum.Entries[0]
	if e.Index != 0 || e.Status != store.StatusFlaky || e.Device != "d2" || e.DurationMs != 1500 || len(e.Attempts) != 2 {
		t.Fatalf("entry %+v", e)
	}
	if a := e.Attempts[0]; a.Attempt != 1 || a.OffsetMs != 1000 || a.Report != "" {
		t.Fatalf("pruned attempt %+v", a)
	}
	if a := e.Attempts[1]; a.Report != "link:r2" || a.RunDir != "/runs/r2" || a.OffsetMs != 3000 {
		t.Fatalf("attempt %+v", a)
	}
	s := Stats(sum, 4)
	want := store.CampaignStats{Total: 4, Completed: 1, Flaky: 1, NotRun: 3, DurationMs: 1500}
	if s != want {
		t.Fatalf("stats %+v, want %+v", s, want)
	}
}

func TestExecutions(t *testing.T) {
	r := func(id string) *store.Result { return &store.Result{Details: store.Details{CampaignID: id}} }
	got := Executions([]*store.Result{r("b"), r(""), r("a"), r("b"), r("c"), r("a")})
	if len(got) != 3 || got[0] != "b" || got[1] != "a" || got[2] != "c" {
		t.Fatalf("%v", got)
	}
}

// Load finds the results of a campaign named by its id, its execution id
// or a prefix of either (results are read beside the entries by the name
// given; a prefix is read again once the campaign is known).
func TestLoadByEveryName(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	c := &store.Campaign{ID: store.NewID(), ExecutionID: "nightly-20261102", Name: "Nightly", Status: "completed", StartedAt: t0}
	if _, err := st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	r := &store.Result{ID: store.NewID(), ScriptName: "goto", Status: store.StatusPassed, StartedAt: t0, HeartbeatAt: t0,
		RunDir: "/runs/goto", Metadata: map[string]any{}}
	if err := st.CreateResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	e := store.CampaignEntry{CampaignID: c.ID, Index: 0, Attempt: 1, ScriptName: "goto", Status: store.StatusPassed,
		ScriptResultID: r.ID, StartedAt: t0}
	if err := st.PutCampaignEntry(ctx, e); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{c.ID, c.ExecutionID, c.ID[:8], c.ExecutionID[:7]} {
		sum, results, err := Load(ctx, st, name, func(r *store.Result) string { return r.ID })
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sum.Campaign.ID != c.ID || len(sum.Entries) != 1 || results[r.ID] == nil || sum.Entries[0].Attempts[0].Report != r.ID {
			t.Fatalf("%s: %+v %v", name, sum, results)
		}
	}
	if _, _, err := Load(ctx, st, "nothing", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown campaign: %v", err)
	}
}
