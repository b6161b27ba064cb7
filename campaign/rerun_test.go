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
