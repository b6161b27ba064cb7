package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

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
	cond, args := " AND status IN ('passed', 'failed')", []any(nil)
	if device != "" {
		cond += " AND device_id = ?"
		args = append(args, device)
	}
	return out, s.recentPerScript(ctx, "recent durations", scripts, "execution_time_ms", cond, args, window, func(rows *sql.Rows) error {
		var name string
		var ms int64
		if err := rows.Scan(&name, &ms); err != nil {
			return err
		}
		out[name] = append(out[name], ms)
		return nil
	})
}

// perScriptChunk bounds the scripts of one recentPerScript query (SQLite
// allows 500 members in a compound SELECT).
const perScriptChunk = 100

// recentPerScript reads col of the last window rows of each script that
// meet cond (with its args), newest first per script, and gives each row
// (script_name, col) to scan in that order. Each script's rows come from
// its own LIMIT on the (script_name, started_at) index: the cost is the
// rows read, whatever the length of the history (a window function over
// every row of the scripts grew with it: 67 ms at 100,000 results).
func (s *DB) recentPerScript(ctx context.Context, what string, scripts []string, col, cond string, condArgs []any,
	window int, scan func(*sql.Rows) error) error {
	for len(scripts) > 0 {
		chunk := scripts[:min(len(scripts), perScriptChunk)]
		scripts = scripts[len(chunk):]
		parts := make([]string, len(chunk))
		var args []any
		for i, sc := range chunk {
			parts[i] = fmt.Sprintf(`SELECT * FROM (SELECT script_name, %s, started_at FROM script_results
				WHERE script_name = ?%s ORDER BY started_at DESC LIMIT ?) AS s%d`, col, cond, i)
			args = append(append(append(args, sc), condArgs...), window)
		}
		q := "SELECT script_name, " + col + " FROM (" + strings.Join(parts, " UNION ALL ") +
			") AS u ORDER BY script_name, started_at DESC"
		if err := s.each(ctx, what, q, args, scan); err != nil {
			return err
		}
	}
	return nil
}

// each runs a query and gives each row to scan.
func (s *DB) each(ctx context.Context, what, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.query(ctx, s.q(q), args...)
	if err != nil {
		return wrap(what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return wrap(what, rows.Err())
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
