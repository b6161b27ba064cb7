// Command storeload writes results into a vpt store the way vpt runs do:
// each result is created running, then finished. Benchmarks start several
// at once to measure the store under concurrent writers.
//
//	storeload -store sqlite://x.db -n 2500            start+finish pairs
//	storeload -store sqlite://x.db -n 100000 -bulk    finished rows, fast (fixtures)
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
	flag.Parse()
	ctx := context.Background()
	start := time.Now()
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
