// Command storeload writes results into a vpt store the way vpt runs do:
// each result is created running, then finished. Benchmarks start several
// at once to measure the store under concurrent writers.
//
//	storeload -store sqlite://x.db -n 2500            start+finish pairs
//	storeload -store sqlite://x.db -n 100000 -bulk    finished rows, fast (fixtures)
//	storeload -store sqlite://x.db -n 10000 -campaign one campaign of n entries,
//	                                                  each with its result; prints
//	                                                  the id of its first result
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/vpt-dev/vpt/store"
	_ "github.com/vpt-dev/vpt/store/postgres"
	"github.com/vpt-dev/vpt/store/sqlite"
	"github.com/vpt-dev/vpt/store/sqlstore"
)

func main() {
	url := flag.String("store", "", "store URL")
	n := flag.Int("n", 1000, "results to write")
	bulk := flag.Bool("bulk", false, "write finished rows in large transactions (SQLite only)")
	campaign := flag.Bool("campaign", false, "write one finished campaign of n entries")
	flag.Parse()
	ctx := context.Background()
	start := time.Now()
	if *campaign {
		if err := fillCampaign(ctx, *url, *n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if *bulk {
		if err := bulkFill(ctx, *url, *n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d %.3f\n", *n, time.Since(start).Seconds())
		return
	}
	st, err := store.Open(ctx, *url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer st.Close()
	host, _ := os.Hostname()
	for i := 0; i < *n; i++ {
		r := &store.Result{ID: store.NewID(), TeamID: "bench", ScriptName: fmt.Sprintf("load_%d", i%50), ScriptType: "load",
			HostName: host, DeviceID: "device1", DeviceName: "Virtual", DeviceModel: "virtual", Status: store.StatusRunning,
			StartedAt: time.Now(), PID: os.Getpid()}
		if err := st.CreateResult(ctx, r); err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			os.Exit(1)
		}
		end := time.Now()
		code := 0
		r.Status, r.Success, r.CompletedAt, r.ExitCode, r.ExecutionTimeMs = store.StatusPassed, true, &end, &code, 1
		if err := st.UpdateResult(ctx, r); err != nil {
			fmt.Fprintln(os.Stderr, "finish:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("%d %.3f\n", *n, time.Since(start).Seconds())
}

// bulkFill writes n finished results through the store's own SQL, 5000 per
// transaction: a fixture for measuring reads of a large history.
func bulkFill(ctx context.Context, url string, n int) error {
	const prefix = "sqlite://"
	if len(url) <= len(prefix) || url[:len(prefix)] != prefix {
		return fmt.Errorf("-bulk needs a sqlite:// store")
	}
	db, err := sqlite.Open(ctx, url[len(prefix):])
	if err != nil {
		return err
	}
	defer db.Close()
	base := time.Now().Add(-time.Duration(n) * time.Minute)
	for i := 0; i < n; {
		tx, err := db.SQL().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO script_results (id, team_id, script_name, script_type, host_name,
			device_id, device_name, device_model, status, success, exit_code, started_at, completed_at, execution_time_ms,
			heartbeat_at, created_at, updated_at) VALUES (?, 't', ?, 'bulk', 'h', ?, 'd', 'virtual', ?, ?, ?, ?, ?, 1000, ?, ?, ?)`)
		if err != nil {
			return err
		}
		for j := 0; j < 5000 && i < n; j, i = j+1, i+1 {
			at := base.Add(time.Duration(i) * time.Minute).UTC()
			status, code := "passed", 0
			if i%9 == 0 {
				status, code = "failed", 1
			}
			t := at.Format(sqlstore.TimeLayout)
			e := at.Add(time.Second).Format(sqlstore.TimeLayout)
			if _, err := stmt.ExecContext(ctx, store.NewID(), fmt.Sprintf("script_%03d", i%200), fmt.Sprintf("device%d", i%4+1),
				status, status == "passed", code, t, e, e, t, t); err != nil {
				return err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// fillCampaign writes a finished campaign of n entries, each attempt with
// its finished result (one in ten failed), and prints its first result's
// id: `vpt report regenerate ID` then rebuilds the campaign's report.
func fillCampaign(ctx context.Context, url string, n int) error {
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	base := time.Now().Add(-time.Duration(n) * time.Second).UTC()
	c := &store.Campaign{ID: store.NewID(), ExecutionID: "bench-" + store.NewID()[:8], TeamID: "bench", Name: "Bench",
		CampaignID: "bench", HostName: "h", Status: string(store.StatusRunning), StartedAt: base, ShardTotal: 1,
		Stats: store.CampaignStats{Total: n}} // as vpt campaign starts one
	if _, err := st.CreateCampaign(ctx, c); err != nil {
		return err
	}
	first := ""
	for i := 0; i < n; i++ {
		at := base.Add(time.Duration(i) * time.Second)
		end := at.Add(900 * time.Millisecond)
		status, code := store.StatusPassed, 0
		if i%10 == 9 {
			status, code = store.StatusFailed, 1
		}
		r := &store.Result{ID: store.NewID(), TeamID: "bench", ScriptName: fmt.Sprintf("script_%03d", i%200), ScriptType: "bench",
			HostName: "h", DeviceID: "device1", DeviceName: "Virtual", DeviceModel: "virtual", Status: status,
			Success: status == store.StatusPassed, ExitCode: &code, StartedAt: at, CompletedAt: &end, ExecutionTimeMs: 900,
			RunDir: fmt.Sprintf("runs/bench-%05d", i), ScriptPath: "test_scripts/" + fmt.Sprintf("script_%03d", i%200) + ".py",
			Parameters: []string{"--node", "live"}, PID: os.Getpid(), Owner: "bench",
			// What a run records: its device, its interpreter.
			Metadata: map[string]any{"device_id": "device1", "device_model": "virtual",
				"python": map[string]any{"path": "/usr/bin/python3", "version": "3.11.2"}}}
		r.Details.CampaignID, r.Details.Attempt = c.ExecutionID, 1
		if err := st.CreateResult(ctx, r); err != nil {
			return err
		}
		if first == "" {
			first = r.ID
		}
		e := store.CampaignEntry{CampaignID: c.ID, Index: i, Attempt: 1, ScriptName: r.ScriptName, DeviceID: r.DeviceID,
			Status: status, ScriptResultID: r.ID, StartedAt: at, DurationMs: 900, RunDir: r.RunDir}
		if err := st.PutCampaignEntry(ctx, e); err != nil {
			return err
		}
	}
	end := base.Add(time.Duration(n) * time.Second)
	c.Status, c.CompletedAt = string(store.StatusFailed), &end
	c.Stats.Completed, c.Stats.Failed = n, n/10
	c.Stats.Passed = n - c.Stats.Failed
	if _, err := st.FinishCampaign(ctx, c); err != nil {
		return err
	}
	fmt.Println(first)
	return nil
}
