package results

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
	_ "github.com/vpt-dev/vpt/store/sqlite"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// project is a results folder with a store and one run folder per result.
func project(t *testing.T, statuses ...store.Status) (string, store.Store, []*store.Result) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var out []*store.Result
	for i, s := range statuses {
		r := &store.Result{ID: store.NewID(), ScriptName: "s", Status: s, StartedAt: t0.Add(time.Duration(i) * time.Minute),
			RunDir: filepath.Join(dir, "runs", string(rune('a'+i)))}
		os.MkdirAll(r.RunDir, 0o755)
		os.WriteFile(filepath.Join(r.RunDir, report.OutputLog), []byte("output\n"), 0o644)
		if err := st.CreateResult(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return dir, st, out
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	_, empty, _ := project(t)
	var nf *NotFoundError
	if _, err := Find(ctx, empty, "latest"); !errors.As(err, &nf) || err.Error() != "no results yet" || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no results: %v", err)
	}
	_, st, rs := project(t, store.StatusPassed, store.StatusFailed)
	if got, err := Find(ctx, st, "latest"); err != nil || got.ID != rs[1].ID {
		t.Fatalf("latest: %v %v", got, err)
	}
	var ie *IDError
	if _, err := Find(ctx, st, " "); !errors.As(err, &ie) || ie.HintText() == "" || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty id: %v", err)
	}
	if got, err := Find(ctx, st, rs[0].ID[:8]); err != nil || got.ID != rs[0].ID {
		t.Fatalf("prefix: %v %v", got, err)
	}
	if _, err := Find(ctx, st, "zzzz"); !errors.As(err, &nf) || nf.HintText() == "" {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	dir, st, rs := project(t, store.StatusPassed, store.StatusFailed, store.StatusRunning)
	// A row whose run folder is outside the results folder (a run folder
	// is fixed when the row is created).
	outside := &store.Result{ID: store.NewID(), ScriptName: "s", Status: store.StatusPassed, StartedAt: t0.Add(3 * time.Minute),
		RunDir: t.TempDir()}
	if err := st.CreateResult(ctx, outside); err != nil {
		t.Fatal(err)
	}
	rs = append(rs, outside)
	o := PruneOptions{Before: t0.Add(time.Hour), KeepFailed: true, ResultsDir: dir, DryRun: true}
	var said []string
	o.Pruned = func(r store.Result) { said = append(said, r.ID) }
	rep, err := Prune(ctx, st, o)
	if err != nil || rep.Deleted != 2 || rep.Kept != 2 || rep.Bytes != 7 || len(said) != 2 {
		t.Fatalf("dry run: %+v %v %v", rep, said, err)
	}
	if _, err := os.Stat(rs[0].RunDir); err != nil {
		t.Fatal("a dry run deleted a folder")
	}
	o.DryRun = false
	if rep, err = Prune(ctx, st, o); err != nil || rep.Deleted != 2 || rep.Kept != 2 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	left, _ := st.ListResults(ctx, store.ResultFilter{})
	if len(left) != 2 {
		t.Fatalf("left %d rows, want the failed and the running one", len(left))
	}
	if _, err := os.Stat(rs[0].RunDir); !os.IsNotExist(err) {
		t.Fatal("the run folder survived")
	}
	if _, err := os.Stat(outside.RunDir); err != nil {
		t.Fatal("a folder outside the runs folder was deleted")
	}
	// A remote copy that cannot be deleted keeps the whole run.
	r := &store.Result{ID: store.NewID(), Status: store.StatusPassed, StartedAt: t0, UploadStatus: store.UploadDone}
	st.CreateResult(ctx, r)
	o.KeepFailed = false
	o.Remote = func(context.Context, *store.Result) error { return errors.New("bucket gone") }
	if _, err := Prune(ctx, st, o); err == nil {
		t.Fatal("a failed remote delete was not an error")
	}
	if _, err := st.GetResult(ctx, r.ID); err != nil {
		t.Fatalf("the row went although its uploaded copy stayed: %v", err)
	}
}

func TestRegenerate(t *testing.T) {
	ctx := context.Background()
	dir, st, rs := project(t, store.StatusPassed, store.StatusFailed)
	os.RemoveAll(rs[1].RunDir)
	full, err := Full(ctx, st, store.ResultFilter{})
	if err != nil || len(full) != 2 {
		t.Fatalf("full: %v %v", full, err)
	}
	rep, err := Regenerate(ctx, st, dir, full, false)
	if err != nil || rep.Done != 1 || rep.Skipped != 1 {
		t.Fatalf("all: %+v %v", rep, err)
	}
	for _, f := range []string{report.ReportHTML, report.ResultJSON} {
		if _, err := os.Stat(filepath.Join(rs[0].RunDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Regenerate(ctx, st, dir, []*store.Result{rs[1]}, true); !errors.Is(err, ErrNotHere) {
		t.Fatalf("one run not here: %v", err)
	}
}
