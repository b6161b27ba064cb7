package campaign

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// LastFailed reads the newest finished execution, skipping a running one,
// and counts a flaky entry as passed.
func TestLastFailed(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if failed, prev, err := LastFailed(ctx, st, "nightly", nil); err != nil || prev != "" || failed != nil {
		t.Fatalf("no history: %v %q %v", failed, prev, err)
	}
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	execution := func(n int, status string, attempts ...store.CampaignEntry) {
		c := &store.Campaign{ID: store.NewID(), ExecutionID: fmt.Sprintf("campaign_exec_%d", n), Name: "N", CampaignID: "nightly",
			Status: status, StartedAt: t0.Add(time.Duration(n) * time.Hour), ShardTotal: 1}
		if _, err := st.CreateCampaign(ctx, c); err != nil {
			t.Fatal(err)
		}
		for _, a := range attempts {
			a.CampaignID = c.ID
			if err := st.PutCampaignEntry(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := func(index, attempt int, s store.Status) store.CampaignEntry {
		return store.CampaignEntry{Index: index, Attempt: attempt, ScriptName: "s", Status: s}
	}
	execution(1, StatusFailed, e(0, 1, store.StatusFailed), e(1, 1, store.StatusPassed))
	execution(2, StatusFailed, e(0, 1, store.StatusPassed), e(1, 1, store.StatusFailed), e(1, 2, store.StatusPassed),
		e(2, 1, store.StatusTimeout), e(3, 1, store.StatusNotRun))
	execution(3, StatusRunning, e(0, 1, store.StatusFailed))
	failed, prev, err := LastFailed(ctx, st, "nightly", nil)
	if err != nil || prev != "campaign_exec_2" || fmt.Sprint(failed) != "map[2:true 3:true]" {
		t.Fatalf("got %v %q %v", failed, prev, err)
	}
}

// An entry a --last-failed execution left out keeps the verdict of the
// execution it reran, back through a chain of reruns; one no execution of
// the chain ran has never passed.
func TestLastFailedFollowsReruns(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	file := []any{map[string]any{"script_name": "a"}, map[string]any{"script_name": "b"},
		map[string]any{"script_name": "c"}, map[string]any{"script_name": "d"}}
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	execution := func(n int, rerunOf string, entries []any, attempts ...store.CampaignEntry) {
		c := &store.Campaign{ID: store.NewID(), ExecutionID: fmt.Sprintf("campaign_exec_%d", n), Name: "N", CampaignID: "nightly",
			Status: StatusFailed, StartedAt: t0.Add(time.Duration(n) * time.Hour), ShardTotal: 1, ScriptConfigurations: entries}
		if rerunOf != "" {
			c.Extra = map[string]any{rerunOfKey: rerunOf}
		}
		if _, err := st.CreateCampaign(ctx, c); err != nil {
			t.Fatal(err)
		}
		for _, a := range attempts {
			a.CampaignID = c.ID
			if err := st.PutCampaignEntry(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	e := func(index int, s store.Status) store.CampaignEntry {
		return store.CampaignEntry{Index: index, Attempt: 1, ScriptName: "s", Status: s}
	}
	// a and b pass first; c and d fail. The first rerun fixes c; the
	// second reruns d only, and fails it again.
	execution(1, "", file[:3], e(0, store.StatusPassed), e(1, store.StatusPassed), e(2, store.StatusFailed))
	execution(2, "campaign_exec_1", file, e(2, store.StatusPassed), e(3, store.StatusFailed))
	execution(3, "campaign_exec_2", file, e(3, store.StatusFailed))
	failed, prev, err := LastFailed(ctx, st, "nightly", []string{"a", "b", "c", "d"})
	if err != nil || prev != "campaign_exec_3" || fmt.Sprint(failed) != "map[3:true]" {
		t.Fatalf("got %v %q %v", failed, prev, err)
	}
	// Without its chain (a rerun of an execution since deleted) an entry
	// left out has never passed.
	execution(4, "campaign_exec_gone", file, e(3, store.StatusPassed))
	if failed, _, err = LastFailed(ctx, st, "nightly", []string{"a", "b", "c", "d"}); err != nil || fmt.Sprint(failed) != "map[0:true 1:true 2:true]" {
		t.Fatalf("broken chain: got %v %v", failed, err)
	}
}
