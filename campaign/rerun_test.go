package campaign

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// history is a results store with executions of the campaign "nightly",
// for LastFailed to read.
type history struct {
	t  *testing.T
	st store.Store
}

func newHistory(t *testing.T) *history {
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "vpt.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &history{t: t, st: st}
}

// add records execution n (campaign_exec_n, started n hours in) of the
// file's entries, a rerun of rerunOf when it is not "", with its attempts.
func (h *history) add(n int, status string, file []any, rerunOf string, attempts ...store.CampaignEntry) {
	ctx := context.Background()
	c := &store.Campaign{ID: store.NewID(), ExecutionID: fmt.Sprintf("campaign_exec_%d", n), Name: "N", CampaignID: "nightly",
		Status: status, StartedAt: time.Date(2026, 11, 2, 10+n, 0, 0, 0, time.UTC), ShardTotal: 1, ScriptConfigurations: file}
	if rerunOf != "" {
		c.Extra = map[string]any{rerunOfKey: rerunOf}
	}
	if _, err := h.st.CreateCampaign(ctx, c); err != nil {
		h.t.Fatal(err)
	}
	for _, a := range attempts {
		a.CampaignID = c.ID
		if err := h.st.PutCampaignEntry(ctx, a); err != nil {
			h.t.Fatal(err)
		}
	}
}

func attempt(index, n int, s store.Status) store.CampaignEntry {
	return store.CampaignEntry{Index: index, Attempt: n, ScriptName: "s", Status: s}
}

// LastFailed reads the newest finished execution, skipping a running one,
// and counts a flaky entry as passed.
func TestLastFailed(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	if failed, prev, err := LastFailed(ctx, h.st, "nightly", nil); err != nil || prev != "" || failed != nil {
		t.Fatalf("no history: %v %q %v", failed, prev, err)
	}
	h.add(1, StatusFailed, nil, "", attempt(0, 1, store.StatusFailed), attempt(1, 1, store.StatusPassed))
	h.add(2, StatusFailed, nil, "", attempt(0, 1, store.StatusPassed), attempt(1, 1, store.StatusFailed), attempt(1, 2, store.StatusPassed),
		attempt(2, 1, store.StatusTimeout), attempt(3, 1, store.StatusNotRun))
	h.add(3, StatusRunning, nil, "", attempt(0, 1, store.StatusFailed))
	failed, prev, err := LastFailed(ctx, h.st, "nightly", nil)
	if err != nil || prev != "campaign_exec_2" || fmt.Sprint(failed) != "map[2:true 3:true]" {
		t.Fatalf("got %v %q %v", failed, prev, err)
	}
}

// An entry a --last-failed execution left out keeps the verdict of the
// execution it reran, back through a chain of reruns; one no execution of
// the chain ran has never passed.
func TestLastFailedFollowsReruns(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	file := []any{map[string]any{"script_name": "a"}, map[string]any{"script_name": "b"},
		map[string]any{"script_name": "c"}, map[string]any{"script_name": "d"}}
	labels := []string{"a", "b", "c", "d"}
	// a and b pass first; c fails; d is new in the first rerun, which
	// fixes c; the second reruns d only, and fails it again.
	h.add(1, StatusFailed, file[:3], "", attempt(0, 1, store.StatusPassed), attempt(1, 1, store.StatusPassed), attempt(2, 1, store.StatusFailed))
	h.add(2, StatusFailed, file, "campaign_exec_1", attempt(2, 1, store.StatusPassed), attempt(3, 1, store.StatusFailed))
	h.add(3, StatusFailed, file, "campaign_exec_2", attempt(3, 1, store.StatusFailed))
	failed, prev, err := LastFailed(ctx, h.st, "nightly", labels)
	if err != nil || prev != "campaign_exec_3" || fmt.Sprint(failed) != "map[3:true]" {
		t.Fatalf("got %v %q %v", failed, prev, err)
	}
	// Without its chain (a rerun of an execution since deleted) an entry
	// left out has never passed.
	h.add(4, StatusFailed, file, "campaign_exec_gone", attempt(3, 1, store.StatusPassed))
	if failed, _, err = LastFailed(ctx, h.st, "nightly", labels); err != nil || fmt.Sprint(failed) != "map[0:true 1:true 2:true]" {
		t.Fatalf("broken chain: got %v %v", failed, err)
	}
}
