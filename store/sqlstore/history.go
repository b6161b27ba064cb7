package sqlstore

import (
	"context"
	"fmt"

	"github.com/vpt-dev/vpt/store"
)

// RecentDurations implements store.Store.
func (s *DB) RecentDurations(ctx context.Context, scripts []string, device string, window int) (map[string][]int64, error) {
	out := map[string][]int64{}
	if len(scripts) == 0 {
		return out, nil
	}
	if window <= 0 {
		window = store.DefaultTrendWindow
	}
	var args []any
	for _, sc := range scripts {
		args = append(args, sc)
	}
	cond := ""
	if device != "" {
		cond = " AND device_id = ?"
		args = append(args, device)
	}
	args = append(args, window)
	q := `SELECT script_name, execution_time_ms FROM (
		SELECT script_name, execution_time_ms, started_at,
			ROW_NUMBER() OVER (PARTITION BY script_name ORDER BY started_at DESC) AS rn
		FROM script_results
		WHERE script_name IN (` + placeholders(len(scripts)) + `)` + cond + ` AND status IN ('passed', 'failed')
	) t WHERE rn <= ? ORDER BY script_name, started_at DESC`
	rows, err := s.query(ctx, s.q(q), args...)
	if err != nil {
		return nil, wrap("recent durations", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var ms int64
		if err := rows.Scan(&name, &ms); err != nil {
			return nil, err
		}
		out[name] = append(out[name], ms)
	}
	return out, wrap("recent durations", rows.Err())
}

// Trends implements store.Store.
func (s *DB) Trends(ctx context.Context, f store.TrendFilter) ([]store.ScriptTrend, error) {
	window := f.Window
	if window <= 0 {
		window = store.DefaultTrendWindow
	}
	where := "status IN ('passed', 'failed', 'error', 'timeout')"
	var args []any
	if f.Script != "" {
		where += " AND script_name = ?"
		args = append(args, f.Script)
	}
	if !f.Since.IsZero() {
		where += " AND started_at >= ?"
		args = append(args, s.tv(f.Since))
	}
	args = append(args, window)
	q := fmt.Sprintf(`SELECT script_name, id, started_at, device_id, status, execution_time_ms FROM (
		SELECT script_name, id, started_at, device_id, status, execution_time_ms,
			ROW_NUMBER() OVER (PARTITION BY script_name ORDER BY started_at DESC) AS rn
		FROM script_results WHERE %s
	) t WHERE rn <= ? ORDER BY script_name, started_at DESC`, where)
	rows, err := s.query(ctx, s.q(q), args...)
	if err != nil {
		return nil, wrap("trends", err)
	}
	defer rows.Close()
	var out []store.ScriptTrend
	for rows.Next() {
		var name, status string
		var p store.TrendPoint
		var at dbTime
		if err := rows.Scan(&name, &p.ID, &at, &p.Device, &status, &p.DurationMs); err != nil {
			return nil, err
		}
		p.StartedAt, p.Status = at.t, store.Status(status)
		if len(out) == 0 || out[len(out)-1].Script != name {
			out = append(out, store.ScriptTrend{Script: name})
		}
		t := &out[len(out)-1]
		t.Runs = append(t.Runs, p)
	}
	return out, wrap("trends", rows.Err())
}
