package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/sqlite"
)

// BenchmarkRunLifecycle is the store work of one `vpt run` process: open
// the database, look for abandoned runs, create the run's row with its
// events, finish it with its events, close.
func BenchmarkRunLifecycle(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "vpt.db")
	owner := store.ThisProcess()
	for b.Loop() {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.RunningResults(ctx); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		r := &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: "noop", ScriptType: "noop", HostName: "h",
			DeviceID: "device1", DeviceName: "Virtual", DeviceModel: "virtual", Status: store.StatusRunning,
			StartedAt: now, PID: owner.PID, PIDStart: owner.Start, Owner: owner.String(), HeartbeatAt: now,
			Metadata: map[string]any{"device_id": "device1"}}
		ev := func(t store.EventType) store.Event {
			e := store.NewEvent(t, store.RunData{Script: "noop", Device: "device1"})
			e.RunID, e.HostName, e.DeviceID = r.ID, "h", "device1"
			return e
		}
		if err := db.CreateResult(ctx, r, ev(store.EventRunQueued), ev(store.EventRunStarted), ev(store.EventDeviceBusy)); err != nil {
			b.Fatal(err)
		}
		end := time.Now()
		code := 0
		r.Status, r.Success, r.CompletedAt, r.ExitCode, r.ExecutionTimeMs = store.StatusPassed, true, &end, &code, 12
		r.Details.Screenshots = []store.Screenshot{{Label: "initial", Path: "screenshots/001-initial.png"}}
		if err := db.UpdateResult(ctx, r, ev(store.EventRunVerdict), ev(store.EventRunFinished), ev(store.EventDeviceIdle)); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
