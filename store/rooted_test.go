package store_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/sqlite"
)

func TestRootedFindsFoldersWhereTheyAreNow(t *testing.T) {
	ctx := t.Context()
	old := filepath.Join(t.TempDir(), "vpt-results")
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := store.Rooted(db, old, false)
	at := time.Now().UTC()
	mk := func(dir string) *store.Result {
		r := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: "s", HostName: "h", DeviceID: "d",
			Status: store.StatusPassed, StartedAt: at, RunDir: dir}
		if err := st.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	inside := mk(filepath.Join(old, "runs", "a"))
	outside := mk("/elsewhere/runs/b")
	// A row of an older vpt: an absolute path.
	legacy := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: "s", HostName: "h", DeviceID: "d",
		Status: store.StatusPassed, StartedAt: at, RunDir: filepath.Join(old, "runs", "c")}
	if err := db.CreateResult(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	c := &store.Campaign{ID: store.NewID(), ExecutionID: "x1", Name: "n", CampaignID: "n", Status: "running", StartedAt: at,
		ReportDir: filepath.Join(old, "campaigns", "x1")}
	if _, err := st.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := st.PutCampaignEntry(ctx, store.CampaignEntry{CampaignID: c.ID, Attempt: 1, ScriptName: "s", Status: store.StatusPassed,
		ScriptResultID: inside.ID, RunDir: inside.RunDir, StartedAt: at}); err != nil {
		t.Fatal(err)
	}

	// The rows record the folder relative to the results folder.
	raw, _ := db.GetResult(ctx, inside.ID)
	if raw.RunDir != "runs/a" {
		t.Fatalf("recorded %q", raw.RunDir)
	}
	if raw, _ := db.GetResult(ctx, outside.ID); raw.RunDir != "/elsewhere/runs/b" {
		t.Fatalf("a folder outside the results folder recorded as %q", raw.RunDir)
	}
	if rawC, _, _ := db.GetCampaign(ctx, c.ID); rawC.ReportDir != "campaigns/x1" {
		t.Fatalf("campaign folder recorded as %q", rawC.ReportDir)
	}
	if inside.RunDir != filepath.Join(old, "runs", "a") {
		t.Fatal("the caller's result was changed")
	}

	// The results folder moves.
	moved := filepath.Join(t.TempDir(), "artifact")
	os.MkdirAll(filepath.Join(moved, "runs", "c"), 0o755)
	st = store.Rooted(db, moved, false)
	got, err := st.GetResult(ctx, inside.ID)
	if err != nil || got.RunDir != filepath.Join(moved, "runs", "a") {
		t.Fatalf("GetResult: %q %v", got.RunDir, err)
	}
	if got, _ := st.GetResult(ctx, legacy.ID); got.RunDir != filepath.Join(moved, "runs", "c") {
		t.Fatalf("an old row's folder not found where it is now: %q", got.RunDir)
	}
	rows, _ := st.ListResults(ctx, store.ResultFilter{})
	for _, r := range rows {
		if r.ID == outside.ID && r.RunDir != "/elsewhere/runs/b" {
			t.Fatalf("outside folder read as %q", r.RunDir)
		}
	}
	gc, entries, err := st.GetCampaign(ctx, "x1")
	if err != nil || gc.ReportDir != filepath.Join(moved, "campaigns", "x1") || entries[0].RunDir != filepath.Join(moved, "runs", "a") {
		t.Fatalf("campaign %q, entry %q (%v)", gc.ReportDir, entries[0].RunDir, err)
	}
	if rs, err := st.CampaignResults(ctx, c.ID); err != nil || len(rs) != 1 || rs[0].RunDir != filepath.Join(moved, "runs", "a") {
		t.Fatalf("CampaignResults: %+v %v", rs, err)
	}
	// Another shard joins: the row it loads is resolved too.
	join := &store.Campaign{ID: store.NewID(), ExecutionID: "x1", Name: "n", Status: "running", StartedAt: at}
	if joined, err := st.CreateCampaign(ctx, join); err != nil || !joined || join.ReportDir != filepath.Join(moved, "campaigns", "x1") {
		t.Fatalf("joined %v %v, report dir %q", joined, err, join.ReportDir)
	}
}

// A store hosts share records the absolute path: another host reads it as
// the folder of the host that has it, not as one of its own results.
func TestRootedSharedRecordsAbsolutePaths(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "results")
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	agent, coordinator := store.Rooted(db, dir, true), store.Rooted(db, filepath.Join(t.TempDir(), "vpt-results"), true)
	r := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: "s", HostName: "agent", DeviceID: "d",
		Status: store.StatusPassed, StartedAt: time.Now().UTC(), RunDir: filepath.Join(dir, "runs", "a")}
	if err := agent.CreateResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	if raw, _ := db.GetResult(ctx, r.ID); raw.RunDir != filepath.Join(dir, "runs", "a") {
		t.Fatalf("recorded %q", raw.RunDir)
	}
	if got, _ := coordinator.GetResult(ctx, r.ID); got.RunDir != filepath.Join(dir, "runs", "a") {
		t.Fatalf("read by another host as %q", got.RunDir)
	}
	// A campaign's folder is the results folder's of whoever writes its
	// report (a coordinator that attaches included): relative.
	c := &store.Campaign{ID: store.NewID(), ExecutionID: "x1", Name: "n", CampaignID: "n", Status: "running",
		StartedAt: time.Now().UTC(), ReportDir: filepath.Join(dir, "campaigns", "x1")}
	if _, err := agent.CreateCampaign(ctx, c); err != nil {
		t.Fatal(err)
	}
	if raw, _, _ := db.GetCampaign(ctx, c.ID); raw.ReportDir != "campaigns/x1" {
		t.Fatalf("campaign folder recorded as %q", raw.ReportDir)
	}
}
