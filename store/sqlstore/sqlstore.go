// Package sqlstore implements store.Store on database/sql. The SQLite and
// PostgreSQL stores are this implementation with their own Dialect: the SQL
// text is shared, placeholders, time encoding and migrations are not.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/store"
	"golang.org/x/sync/errgroup"
)

// Dialect holds what differs between databases.
type Dialect struct {
	Name string
	// Rebind turns '?' placeholders into the database's own.
	Rebind func(query string) string
	// Time encodes a timestamp for a parameter.
	Time func(t time.Time) any
	// EventLock runs in a transaction before its events are inserted and
	// holds until it commits, so that sequence numbers are taken in commit
	// order ("" when the database has one writer at a time anyway).
	EventLock string
	// EventNotify runs after the events are inserted, to wake listeners
	// when the transaction commits ("" when listeners poll).
	EventNotify string
	// EventPoll is how often WaitEvents looks for new events; with a
	// Waker it is only the safety net for a lost notification.
	EventPoll time.Duration
}

// Waker tells WaitEvents that events may have been appended: the channel
// Changed returns is closed then (a new one is returned after that).
type Waker interface {
	Changed() <-chan struct{}
	Close() error
}

// DB is a store.Store over a *sql.DB.
type DB struct {
	db    *sql.DB
	d     Dialect
	waker Waker
	log   *slog.Logger

	// openReaders, when set, opens a pool that reads beside db (whose one
	// connection would make a large read wait its turn); readers is it,
	// once opened.
	openReaders func() (*sql.DB, error)
	readersOnce sync.Once
	readers     *sql.DB
}

var _ store.Store = (*DB)(nil)

// New wraps an open, migrated database.
func New(db *sql.DB, d Dialect) *DB { return &DB{db: db, d: d} }

// SetReaders is for a database whose handle has one connection (SQLite):
// open makes, on the first large read, a pool of connections that only
// read, so that such a read runs on several cores.
func (s *DB) SetReaders(open func() (*sql.DB, error)) { s.openReaders = open }

// reader is the handle for large reads.
func (s *DB) reader() *sql.DB {
	if s.openReaders == nil {
		return s.db
	}
	s.readersOnce.Do(func() {
		if r, err := s.openReaders(); err == nil {
			s.readers = r
		}
	})
	if s.readers != nil {
		return s.readers
	}
	return s.db
}

// SQL returns the underlying handle (tests and benchmarks).
func (s *DB) SQL() *sql.DB { return s.db }

// SetLog makes the store log each query and transaction with the time
// it took, at debug level (vpt -vv); nil logs nothing.
func (s *DB) SetLog(l *slog.Logger) { s.log = l }

func (s *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.queryOn(ctx, s.db, q, args...)
}

func (s *DB) queryOn(ctx context.Context, db *sql.DB, q string, args ...any) (*sql.Rows, error) {
	start := time.Now()
	rows, err := db.QueryContext(ctx, q, args...)
	s.logged("query", q, start, err)
	return rows, err
}

func (s *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	start := time.Now()
	res, err := s.db.ExecContext(ctx, q, args...)
	s.logged("exec", q, start, err)
	return res, err
}

func (s *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	start := time.Now()
	row := s.db.QueryRowContext(ctx, q, args...)
	s.logged("query", q, start, row.Err())
	return row
}

// logged logs one statement: its first words (the columns and values of
// a row are long and say little) and its time.
func (s *DB) logged(what, q string, start time.Time, err error) {
	if s.log == nil {
		return
	}
	took := time.Since(start)
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 100 {
		q = q[:100] + "…"
	}
	attrs := []any{"sql", q, "took", took}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	s.log.Debug("store "+what, attrs...)
}

// SetWaker makes WaitEvents wait for w instead of only polling.
func (s *DB) SetWaker(w Waker) { s.waker = w }

// Close closes the database.
func (s *DB) Close() error {
	if s.waker != nil {
		s.waker.Close()
	}
	s.readersOnce.Do(func() {}) // none opens from now on; one opened is seen
	if s.readers != nil {
		s.readers.Close()
	}
	return s.db.Close()
}

func (s *DB) q(query string) string { return s.d.Rebind(query) }

func (s *DB) tv(t time.Time) any { return s.d.Time(t.UTC()) }

func (s *DB) tvp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.tv(*t)
}

// resultCols lists script_results columns in insert order; details last so
// that listing can leave it out.
var resultCols = []string{
	"id", "team_id", "script_name", "script_type", "script_path", "parameters",
	"userinterface_name", "host_name", "device_id", "device_name", "device_model",
	"status", "success", "exit_code", "error_msg", "started_at", "completed_at",
	"execution_time_ms", "run_dir", "html_report_r2_path", "html_report_r2_url",
	"logs_r2_path", "logs_r2_url", "upload_status", "discard", "checked",
	"check_type", "discard_comment", "metadata", "pid", "pid_start", "heartbeat_at", "owner",
	"created_at", "updated_at", "details",
}

func (s *DB) resultArgs(r *store.Result, now time.Time) ([]any, error) {
	params, err := json.Marshal(nonNil(r.Parameters))
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(nonNilMap(r.Metadata))
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	details, err := json.Marshal(r.Details)
	if err != nil {
		return nil, fmt.Errorf("details: %w", err)
	}
	var exit any
	if r.ExitCode != nil {
		exit = *r.ExitCode
	}
	hb := r.HeartbeatAt
	if hb.IsZero() {
		hb = now
	}
	return []any{
		r.ID, r.TeamID, r.ScriptName, r.ScriptType, r.ScriptPath, string(params),
		r.UserInterface, r.HostName, r.DeviceID, r.DeviceName, r.DeviceModel,
		string(r.Status), r.Success, exit, r.ErrorMsg, s.tv(r.StartedAt), s.tvp(r.CompletedAt),
		r.ExecutionTimeMs, r.RunDir, r.HTMLReportR2Path, r.HTMLReportR2URL,
		r.LogsR2Path, r.LogsR2URL, r.UploadStatus, r.Discard, r.Checked,
		r.CheckType, r.DiscardComment, string(meta), r.PID, r.PIDStart, s.tv(hb), r.Owner,
		s.tv(now), s.tv(now), string(details),
	}, nil
}

// CreateResult implements store.Store.
func (s *DB) CreateResult(ctx context.Context, r *store.Result, evs ...store.Event) error {
	if r.ID == "" {
		return errors.New("result without id")
	}
	args, err := s.resultArgs(r, time.Now())
	if err != nil {
		return err
	}
	q := "INSERT INTO script_results (" + strings.Join(resultCols, ", ") + ") VALUES (" +
		placeholders(len(resultCols)) + ")"
	return wrap("create result", s.withEvents(ctx, evs, func(ex execer) (bool, error) {
		_, err := ex.ExecContext(ctx, s.q(q), args...)
		return true, err
	}))
}

// UpdateResult implements store.Store.
func (s *DB) UpdateResult(ctx context.Context, r *store.Result, evs ...store.Event) error {
	n, err := s.updateResult(ctx, r, "", evs)
	if err == nil && n == 0 {
		return fmt.Errorf("update result %s: %w", r.ID, store.ErrNotFound)
	}
	return err
}

// FinishResult implements store.Store.
func (s *DB) FinishResult(ctx context.Context, r *store.Result, evs ...store.Event) (bool, error) {
	n, err := s.updateResult(ctx, r, " AND status = 'running'", evs)
	return n == 1, err
}

// fixedResultCols are the columns a result's creation sets for good: who
// ran what, where and when. An update leaves them alone, and so leaves
// alone the indexes on them (only the status index changes when a run
// finishes): the write of a finished run touches a few pages, not every
// index of the table.
var fixedResultCols = map[string]bool{
	"id": true, "team_id": true, "script_name": true, "script_type": true, "script_path": true, "parameters": true,
	"userinterface_name": true, "host_name": true, "device_id": true, "device_name": true, "device_model": true,
	"started_at": true, "run_dir": true, "pid": true, "pid_start": true, "owner": true, "created_at": true,
}

// updateResultSet is the SET clause of an update: every column but the
// fixed ones, in resultCols order.
var updateResultSet = func() string {
	var sets []string
	for _, c := range resultCols {
		if !fixedResultCols[c] {
			sets = append(sets, c+" = ?")
		}
	}
	return strings.Join(sets, ", ")
}()

// updateResult writes the mutable columns where the id matches and cond
// holds, with evs when it changed the row; it returns the rows changed.
func (s *DB) updateResult(ctx context.Context, r *store.Result, cond string, evs []store.Event) (int64, error) {
	args, err := s.resultArgs(r, time.Now())
	if err != nil {
		return 0, err
	}
	vals := make([]any, 0, len(resultCols))
	for i, c := range resultCols {
		if !fixedResultCols[c] {
			vals = append(vals, args[i])
		}
	}
	vals = append(vals, r.ID)
	var n int64
	err = s.withEvents(ctx, evs, func(ex execer) (bool, error) {
		res, err := ex.ExecContext(ctx, s.q("UPDATE script_results SET "+updateResultSet+" WHERE id = ?"+cond), vals...)
		if err != nil {
			return false, err
		}
		n, _ = res.RowsAffected()
		return n > 0, nil
	})
	return n, wrap("update result", err)
}

// Heartbeat implements store.Store.
func (s *DB) Heartbeat(ctx context.Context, ids []string, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{s.tv(at)}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := s.exec(ctx, s.q("UPDATE script_results SET heartbeat_at = ? WHERE status = 'running' AND id IN ("+
		placeholders(len(ids))+")"), args...)
	return wrap("heartbeat", err)
}

type scanner interface{ Scan(dest ...any) error }

// metaCache holds the metadata of the rows of one read, decoded, by its
// text: a campaign's results mostly share theirs (the device, the
// interpreter), and decoding each was a third of reading them. A row gets
// a copy of its own, down to the objects and lists inside. Only so many
// texts are kept.
type metaCache map[string]map[string]any

const metaCacheSize = 64

func (c metaCache) decode(raw string, into *map[string]any) error {
	if m, ok := c[raw]; ok {
		*into = cloneJSON(m).(map[string]any)
		return nil
	}
	if err := json.Unmarshal([]byte(raw), into); err != nil {
		return err
	}
	if c != nil && len(c) < metaCacheSize {
		c[raw], _ = cloneJSON(*into).(map[string]any)
	}
	return nil
}

// cloneJSON copies a value encoding/json decoded into an any: objects and
// lists are copied, other values are immutable.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return v
		}
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = cloneJSON(x)
		}
		return m
	case []any:
		if v == nil {
			return v
		}
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = cloneJSON(x)
		}
		return l
	default:
		return v
	}
}

// resultRow reads rows of resultCols (details last, when withDetails).
// Its destinations are made once and serve every row of a read: making
// them for each row was a sixth of what reading a campaign's results
// allocated.
type resultRow struct {
	r                             store.Result
	params, meta, details, status string
	exit                          sql.NullInt64
	started, completed, hb        dbTime
	created, updated              dbTime
	dest                          []any
}

func newResultRow(withDetails bool) *resultRow {
	w := &resultRow{}
	r := &w.r
	w.dest = []any{
		&r.ID, &r.TeamID, &r.ScriptName, &r.ScriptType, &r.ScriptPath, &w.params,
		&r.UserInterface, &r.HostName, &r.DeviceID, &r.DeviceName, &r.DeviceModel,
		&w.status, &r.Success, &w.exit, &r.ErrorMsg, &w.started, &w.completed,
		&r.ExecutionTimeMs, &r.RunDir, &r.HTMLReportR2Path, &r.HTMLReportR2URL,
		&r.LogsR2Path, &r.LogsR2URL, &r.UploadStatus, &r.Discard, &r.Checked,
		&r.CheckType, &r.DiscardComment, &w.meta, &r.PID, &r.PIDStart, &w.hb, &r.Owner,
		&w.created, &w.updated,
	}
	if withDetails {
		w.dest = append(w.dest, &w.details)
	}
	return w
}

// scan reads the row sc is on into dst. metas, which may be nil, holds the
// metadata decoded for the read's earlier rows.
func (w *resultRow) scan(sc scanner, dst *store.Result, metas metaCache) error {
	// Every field starts from nothing: a row gets nothing of the one before.
	*w = resultRow{dest: w.dest}
	if err := sc.Scan(w.dest...); err != nil {
		return err
	}
	r := &w.r
	r.Status = store.Status(w.status)
	if w.exit.Valid {
		v := int(w.exit.Int64)
		r.ExitCode = &v
	}
	r.StartedAt = w.started.t
	if w.completed.valid {
		t := w.completed.t
		r.CompletedAt = &t
	}
	r.HeartbeatAt = w.hb.t
	if p, ok := plainStrings(w.params); ok {
		r.Parameters = p
	} else if err := json.Unmarshal([]byte(w.params), &r.Parameters); err != nil {
		return fmt.Errorf("result %s parameters: %w", r.ID, err)
	}
	if err := metas.decode(w.meta, &r.Metadata); err != nil {
		return fmt.Errorf("result %s metadata: %w", r.ID, err)
	}
	if w.details != "" {
		if err := json.Unmarshal([]byte(w.details), &r.Details); err != nil {
			return fmt.Errorf("result %s details: %w", r.ID, err)
		}
	}
	*dst = *r
	return nil
}

// GetResult implements store.Store.
func (s *DB) GetResult(ctx context.Context, id string) (*store.Result, error) {
	if id == "" {
		return nil, fmt.Errorf("empty id: %w", store.ErrNotFound)
	}
	rows, err := s.query(ctx, s.q("SELECT "+strings.Join(resultCols, ", ")+
		" FROM script_results WHERE id >= ? AND id < ? ORDER BY (id = ?) DESC LIMIT 2"), id, prefixEnd(id), id)
	if err != nil {
		return nil, wrap("get result", err)
	}
	defer rows.Close()
	var found []*store.Result
	row := newResultRow(true)
	for rows.Next() {
		r := new(store.Result)
		if err := row.scan(rows, r, nil); err != nil {
			return nil, err
		}
		found = append(found, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("get result", err)
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("result %q: %w", id, store.ErrNotFound)
	case found[0].ID == id || len(found) == 1:
		return found[0], nil
	default:
		return nil, fmt.Errorf("result %q: %w", id, store.ErrAmbiguous)
	}
}

// ListResults implements store.Store.
func (s *DB) ListResults(ctx context.Context, f store.ResultFilter) ([]store.Result, error) {
	var where []string
	var args []any
	if f.Script != "" {
		where = append(where, "r.script_name = ?")
		args = append(args, f.Script)
	}
	if f.Device != "" {
		where = append(where, "(r.device_id = ? OR r.device_name = ?)")
		args = append(args, f.Device, f.Device)
	}
	if len(f.Statuses) > 0 {
		where = append(where, "r.status IN ("+placeholders(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "r.started_at >= ?")
		args = append(args, s.tv(f.Since))
	}
	if !f.Before.IsZero() {
		where = append(where, "r.started_at < ?")
		args = append(args, s.tv(f.Before))
	}
	if f.Upload != "" {
		where = append(where, "r.upload_status = ?")
		args = append(args, f.Upload)
	}
	if f.Host != "" {
		where = append(where, "r.host_name = ?")
		args = append(args, f.Host)
	}
	if f.After != nil {
		where = append(where, "(r.started_at < ? OR (r.started_at = ? AND r.id < ?))")
		args = append(args, s.tv(f.After.StartedAt), s.tv(f.After.StartedAt), f.After.ID)
	}
	if f.Campaign != "" {
		where = append(where, `r.id IN (SELECT l.script_result_id FROM campaign_script_results l
			JOIN campaign_executions c ON c.id = l.campaign_id
			WHERE c.id = ? OR c.campaign_execution_id = ?)`)
		args = append(args, f.Campaign, f.Campaign)
	}
	cols := make([]string, 0, len(resultCols))
	for _, c := range resultCols[:len(resultCols)-1] {
		cols = append(cols, "r."+c)
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM script_results r"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY r.started_at DESC, r.id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return s.queryResults(ctx, "list results", false, q, args...)
}

// queryResults runs a query of result rows (with the details column last
// when details is set); what names it in errors.
func (s *DB) queryResults(ctx context.Context, what string, details bool, q string, args ...any) ([]store.Result, error) {
	return s.queryResultsOn(ctx, s.db, what, details, q, args...)
}

func (s *DB) queryResultsOn(ctx context.Context, db *sql.DB, what string, details bool, q string, args ...any) ([]store.Result, error) {
	b, err := s.readResults(ctx, db, what, details, q, args...)
	return b.appendTo(nil), err
}

// readResults runs a query of result rows into blocks.
func (s *DB) readResults(ctx context.Context, db *sql.DB, what string, details bool, q string, args ...any) (resultBlocks, error) {
	rows, err := s.queryOn(ctx, db, s.q(q), args...)
	if err != nil {
		return nil, wrap(what, err)
	}
	defer rows.Close()
	var found resultBlocks
	row, metas := newResultRow(details), metaCache{}
	for rows.Next() {
		if err := row.scan(rows, found.next(), metas); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(what, err)
	}
	return found, nil
}

// resultBlocks holds the rows of a read in blocks that never move: a row
// is copied once into its block and once into the slice a read returns
// (appending to one slice copied every row again at each growth, 15% of
// reading a 10,000-entry campaign).
type resultBlocks [][]store.Result

// next is room for one more row.
func (b *resultBlocks) next() *store.Result {
	n := len(*b)
	if n == 0 || len((*b)[n-1]) == cap((*b)[n-1]) {
		*b = append(*b, make([]store.Result, 0, 16<<min(n, 6)))
		n++
	}
	last := &(*b)[n-1]
	*last = (*last)[:len(*last)+1]
	return &(*last)[len(*last)-1]
}

func (b resultBlocks) len() int {
	n := 0
	for _, block := range b {
		n += len(block)
	}
	return n
}

// appendTo appends the rows to out, which is nil when there are none.
func (b resultBlocks) appendTo(out []store.Result) []store.Result {
	if out == nil && b.len() > 0 {
		out = make([]store.Result, 0, b.len())
	}
	for _, block := range b {
		out = append(out, block...)
	}
	return out
}

// ScriptStats implements store.Store.
func (s *DB) ScriptStats(ctx context.Context, scripts []string, window int) (map[string]store.ScriptStats, error) {
	out := map[string]store.ScriptStats{}
	if len(scripts) == 0 {
		return out, nil
	}
	if window <= 0 {
		window = 20
	}
	last := map[string]bool{}
	return out, s.recentPerScript(ctx, "script stats", scripts, "status", " AND status IN ('passed', 'failed', 'timeout')", nil,
		window, func(rows *sql.Rows) error {
			var name, status string
			if err := rows.Scan(&name, &status); err != nil {
				return err
			}
			st := out[name]
			pass := status == string(store.StatusPassed)
			if st.Runs > 0 && last[name] != pass {
				st.Flips++
			}
			last[name] = pass
			st.Runs++
			if pass {
				st.Passed++
			}
			out[name] = st
			return nil
		})
}

// DeleteResult implements store.Store.
func (s *DB) DeleteResult(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		// The campaign attempt that made the result stays, unlinked: the
		// campaign's history keeps the entry, its status and its duration.
		if _, err := tx.ExecContext(ctx, s.q("UPDATE campaign_script_results SET script_result_id = NULL WHERE script_result_id = ?"), id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q("DELETE FROM script_results WHERE id = ?"), id)
		return err
	})
}

// RunningResults implements store.Store.
func (s *DB) RunningResults(ctx context.Context) ([]store.Result, error) {
	return s.queryResults(ctx, "find running results", true, "SELECT "+strings.Join(resultCols, ", ")+
		" FROM script_results WHERE status = 'running'")
}

var campaignCols = []string{
	"id", "campaign_execution_id", "team_id", "campaign_name", "campaign_description", "campaign_id",
	"userinterface_name", "host_name", "device_name", "status", "started_at", "completed_at",
	"execution_time_ms", "success", "error_message", "script_configurations", "execution_config",
	"stats", "shard_total", "html_report_r2_path", "html_report_r2_url", "report_dir",
	"extra", "owner", "heartbeat_at", "created_at", "updated_at",
}

func (s *DB) campaignArgs(c *store.Campaign, now time.Time) ([]any, error) {
	enc := func(v any, empty string) (string, error) {
		if v == nil {
			return empty, nil
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	sc, err := enc(c.ScriptConfigurations, "[]")
	if err != nil {
		return nil, err
	}
	ec, err := enc(c.ExecutionConfig, "{}")
	if err != nil {
		return nil, err
	}
	stats, _ := enc(c.Stats, "{}")
	extra, err := enc(nonNilMap(c.Extra), "{}")
	if err != nil {
		return nil, err
	}
	hb := c.HeartbeatAt
	if hb.IsZero() {
		hb = now
	}
	return []any{
		c.ID, c.ExecutionID, c.TeamID, c.Name, c.Description, c.CampaignID,
		c.UserInterface, c.HostName, c.DeviceName, c.Status, s.tv(c.StartedAt), s.tvp(c.CompletedAt),
		c.ExecutionTimeMs, c.Success, c.ErrorMessage, sc, ec,
		stats, c.ShardTotal, c.HTMLReportR2Path, c.HTMLReportR2URL, c.ReportDir,
		extra, c.Owner, s.tv(hb), s.tv(now), s.tv(now),
	}, nil
}

func scanCampaign(sc scanner) (*store.Campaign, error) {
	var c store.Campaign
	var started, completed, hb, created, updated dbTime
	var scfg, ecfg, stats, extra string
	err := sc.Scan(&c.ID, &c.ExecutionID, &c.TeamID, &c.Name, &c.Description, &c.CampaignID,
		&c.UserInterface, &c.HostName, &c.DeviceName, &c.Status, &started, &completed,
		&c.ExecutionTimeMs, &c.Success, &c.ErrorMessage, &scfg, &ecfg,
		&stats, &c.ShardTotal, &c.HTMLReportR2Path, &c.HTMLReportR2URL, &c.ReportDir,
		&extra, &c.Owner, &hb, &created, &updated)
	if err != nil {
		return nil, err
	}
	c.StartedAt, c.HeartbeatAt = started.t, hb.t
	if completed.valid {
		t := completed.t
		c.CompletedAt = &t
	}
	for _, p := range []struct {
		src string
		dst any
	}{{scfg, &c.ScriptConfigurations}, {ecfg, &c.ExecutionConfig}, {stats, &c.Stats}, {extra, &c.Extra}} {
		if p.src == "" {
			continue
		}
		if err := json.Unmarshal([]byte(p.src), p.dst); err != nil {
			return nil, fmt.Errorf("campaign %s: %w", c.ID, err)
		}
	}
	return &c, nil
}

// CreateCampaign implements store.Store.
func (s *DB) CreateCampaign(ctx context.Context, c *store.Campaign, evs ...store.Event) (bool, error) {
	args, err := s.campaignArgs(c, time.Now())
	if err != nil {
		return false, err
	}
	q := "INSERT INTO campaign_executions (" + strings.Join(campaignCols, ", ") + ") VALUES (" +
		placeholders(len(campaignCols)) + ") ON CONFLICT (campaign_execution_id) DO NOTHING"
	joined := false
	err = s.withEvents(ctx, evs, func(ex execer) (bool, error) {
		res, err := ex.ExecContext(ctx, s.q(q), args...)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return true, nil
		}
		row := ex.QueryRowContext(ctx, s.q("SELECT "+strings.Join(campaignCols, ", ")+
			" FROM campaign_executions WHERE campaign_execution_id = ?"), c.ExecutionID)
		existing, err := scanCampaign(row)
		if err != nil {
			return false, fmt.Errorf("join campaign: %w", err)
		}
		*c = *existing
		joined = true
		return true, nil
	})
	return joined, wrap("create campaign", err)
}

// UpdateCampaign implements store.Store.
func (s *DB) UpdateCampaign(ctx context.Context, c *store.Campaign, evs ...store.Event) error {
	n, err := s.updateCampaign(ctx, c, "", evs)
	if err == nil && n == 0 {
		return fmt.Errorf("update campaign %s: %w", c.ID, store.ErrNotFound)
	}
	return err
}

// FinishCampaign implements store.Store.
func (s *DB) FinishCampaign(ctx context.Context, c *store.Campaign, evs ...store.Event) (bool, error) {
	n, err := s.updateCampaign(ctx, c, " AND status = 'running'", evs)
	return n == 1, err
}

func (s *DB) updateCampaign(ctx context.Context, c *store.Campaign, cond string, evs []store.Event) (int64, error) {
	args, err := s.campaignArgs(c, time.Now())
	if err != nil {
		return 0, err
	}
	var sets []string
	var vals []any
	for i, col := range campaignCols {
		if col == "id" || col == "created_at" || col == "campaign_execution_id" {
			continue
		}
		sets = append(sets, col+" = ?")
		vals = append(vals, args[i])
	}
	vals = append(vals, c.ID)
	var n int64
	err = s.withEvents(ctx, evs, func(ex execer) (bool, error) {
		res, err := ex.ExecContext(ctx, s.q("UPDATE campaign_executions SET "+strings.Join(sets, ", ")+" WHERE id = ?"+cond), vals...)
		if err != nil {
			return false, err
		}
		n, _ = res.RowsAffected()
		return n > 0, nil
	})
	return n, wrap("update campaign", err)
}

// HeartbeatCampaign implements store.Store.
func (s *DB) HeartbeatCampaign(ctx context.Context, id, owner string, at time.Time) error {
	_, err := s.exec(ctx, s.q("UPDATE campaign_executions SET heartbeat_at = ?, owner = ? WHERE id = ? AND status = 'running'"),
		s.tv(at), owner, id)
	return wrap("campaign heartbeat", err)
}

// RunningCampaigns implements store.Store.
func (s *DB) RunningCampaigns(ctx context.Context) ([]store.Campaign, error) {
	return s.ListCampaigns(ctx, store.CampaignFilter{Status: "running"})
}

// PutCampaignEntry implements store.Store.
func (s *DB) PutCampaignEntry(ctx context.Context, e store.CampaignEntry, evs ...store.Event) error {
	var rid any
	if e.ScriptResultID != "" {
		rid = e.ScriptResultID
	}
	q := `INSERT INTO campaign_script_results (campaign_id, entry_index, attempt, shard, script_name, device_id,
		status, script_result_id, started_at, duration_ms, run_dir, error, requeued)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (campaign_id, entry_index, attempt) DO UPDATE SET shard = excluded.shard,
		script_name = excluded.script_name, device_id = excluded.device_id, status = excluded.status,
		script_result_id = excluded.script_result_id, started_at = excluded.started_at,
		duration_ms = excluded.duration_ms, run_dir = excluded.run_dir, error = excluded.error,
		requeued = excluded.requeued`
	return wrap("put campaign entry", s.withEvents(ctx, evs, func(ex execer) (bool, error) {
		_, err := ex.ExecContext(ctx, s.q(q), e.CampaignID, e.Index, e.Attempt, e.Shard, e.ScriptName, e.DeviceID,
			string(e.Status), rid, s.tv(e.StartedAt), e.DurationMs, e.RunDir, e.Error, e.Requeued)
		return true, err
	}))
}

// GetCampaign implements store.Store.
func (s *DB) GetCampaign(ctx context.Context, id string) (*store.Campaign, []store.CampaignEntry, error) {
	rows, err := s.query(ctx, s.q("SELECT "+strings.Join(campaignCols, ", ")+
		` FROM campaign_executions WHERE (id >= ? AND id < ?) OR (campaign_execution_id >= ? AND campaign_execution_id < ?)
		ORDER BY (id = ?) DESC, (campaign_execution_id = ?) DESC LIMIT 2`),
		id, prefixEnd(id), id, prefixEnd(id), id, id)
	if err != nil {
		return nil, nil, wrap("get campaign", err)
	}
	var found []*store.Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		found = append(found, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, wrap("get campaign", err)
	}
	if len(found) == 0 {
		return nil, nil, fmt.Errorf("campaign %q: %w", id, store.ErrNotFound)
	}
	c := found[0]
	if len(found) > 1 && c.ID != id && c.ExecutionID != id {
		return nil, nil, fmt.Errorf("campaign %q: %w", id, store.ErrAmbiguous)
	}
	if c.ShardsDone, err = s.shardsDone(ctx, c.ID); err != nil {
		return nil, nil, err
	}
	erows, err := s.query(ctx, s.q(`SELECT campaign_id, entry_index, attempt, shard, script_name, device_id,
		status, COALESCE(script_result_id, ''), started_at, duration_ms, run_dir, error, requeued
		FROM campaign_script_results WHERE campaign_id = ? ORDER BY entry_index, attempt`), c.ID)
	if err != nil {
		return nil, nil, wrap("get campaign entries", err)
	}
	defer erows.Close()
	// Room for an attempt per entry from the start (a hint: the stats
	// count the entries; retries grow it once).
	entries := make([]store.CampaignEntry, 0, min(max(c.Stats.Total, 0), 1<<20))
	for erows.Next() {
		var e store.CampaignEntry
		var status string
		var started dbTime
		if err := erows.Scan(&e.CampaignID, &e.Index, &e.Attempt, &e.Shard, &e.ScriptName, &e.DeviceID,
			&status, &e.ScriptResultID, &started, &e.DurationMs, &e.RunDir, &e.Error, &e.Requeued); err != nil {
			return nil, nil, err
		}
		e.Status = store.Status(status)
		e.StartedAt = started.t
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		entries = nil
	}
	return c, entries, wrap("get campaign entries", erows.Err())
}

// CampaignResults implements store.Store.
func (s *DB) CampaignResults(ctx context.Context, campaignID string) ([]store.Result, error) {
	// Read in two halves at once, on two connections: reading 10,000 rows
	// is work in the driver, on one core each. The halves are the entries
	// of even and odd index; each result is looked up from its entry (a
	// join: "id IN (subquery)" read all the campaign's entries into a
	// sorted table first, for each half).
	// The campaign is named by its id or its execution id (as GetCampaign
	// prefers them: the id first), so that a report can read the results
	// while GetCampaign reads the entries.
	q := "SELECT r." + strings.Join(resultCols, ", r.") +
		" FROM campaign_script_results c JOIN script_results r ON r.id = c.script_result_id" +
		" WHERE c.campaign_id = (SELECT id FROM campaign_executions WHERE id = ? OR campaign_execution_id = ?" +
		" ORDER BY (id = ?) DESC LIMIT 1) AND c.entry_index & 1 = "
	db := s.reader()
	var halves [2]resultBlocks
	g, gctx := errgroup.WithContext(ctx)
	for i := range halves {
		g.Go(func() error {
			var err error
			halves[i], err = s.readResults(gctx, db, "campaign results", true, q+strconv.Itoa(i), campaignID, campaignID, campaignID)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// A result two attempts name is given once.
	out := make([]store.Result, 0, halves[0].len()+halves[1].len())
	seen := make(map[string]bool, cap(out))
	for _, half := range halves {
		for _, block := range half {
			for i := range block {
				if !seen[block[i].ID] {
					seen[block[i].ID] = true
					out = append(out, block[i])
				}
			}
		}
	}
	return out, nil
}

func (s *DB) shardsDone(ctx context.Context, campaignID string) ([]int, error) {
	ends, err := s.shardEnds(ctx, campaignID)
	out := make([]int, len(ends))
	for i, e := range ends {
		out[i] = e.Shard
	}
	return out, err
}

// shardEnds are the shards of a campaign that ended, sorted, and how.
func (s *DB) shardEnds(ctx context.Context, campaignID string) ([]store.ShardEnd, error) {
	rows, err := s.query(ctx, s.q("SELECT shard, status FROM campaign_shards WHERE campaign_id = ? ORDER BY shard"), campaignID)
	if err != nil {
		return nil, wrap("campaign shards", err)
	}
	defer rows.Close()
	var out []store.ShardEnd
	for rows.Next() {
		var e store.ShardEnd
		if err := rows.Scan(&e.Shard, &e.Status); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, wrap("campaign shards", rows.Err())
}

// FinishShard implements store.Store.
func (s *DB) FinishShard(ctx context.Context, campaignID string, shard int, status, host string) ([]store.ShardEnd, error) {
	_, err := s.exec(ctx, s.q(`INSERT INTO campaign_shards (campaign_id, shard, status, host_name, completed_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (campaign_id, shard) DO UPDATE SET status = excluded.status,
		host_name = excluded.host_name, completed_at = excluded.completed_at`),
		campaignID, shard, status, host, s.tv(time.Now()))
	if err != nil {
		return nil, wrap("finish shard", err)
	}
	return s.shardEnds(ctx, campaignID)
}

// ListCampaigns implements store.Store.
func (s *DB) ListCampaigns(ctx context.Context, f store.CampaignFilter) ([]store.Campaign, error) {
	var where []string
	var args []any
	if f.Name != "" {
		where = append(where, `(LOWER(campaign_name) LIKE ? ESCAPE '\' OR LOWER(campaign_id) LIKE ? ESCAPE '\')`)
		p := "%" + strings.ToLower(escapeLike(f.Name)) + "%"
		args = append(args, p, p)
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.CampaignID != "" {
		where = append(where, "campaign_id = ?")
		args = append(args, f.CampaignID)
	}
	q := "SELECT " + strings.Join(campaignCols, ", ") + " FROM campaign_executions"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_at DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.query(ctx, s.q(q), args...)
	if err != nil {
		return nil, wrap("list campaigns", err)
	}
	defer rows.Close()
	var out []store.Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, wrap("list campaigns", rows.Err())
}

// DeleteCampaign implements store.Store.
func (s *DB) DeleteCampaign(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"campaign_script_results", "campaign_shards"} {
			if _, err := tx.ExecContext(ctx, s.q("DELETE FROM "+table+" WHERE campaign_id = ?"), id); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q("DELETE FROM campaign_executions WHERE id = ?"), id)
		return err
	})
}

func (s *DB) tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	start := time.Now()
	defer func() { s.logged("transaction", "", start, err) }()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("begin", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return wrap("transaction", err)
	}
	return wrap("commit", tx.Commit())
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// prefixEnd is the smallest string greater than every string starting with
// p, so that "id >= p AND id < prefixEnd(p)" selects an id prefix with an
// index range scan.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return p + "\xff"
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// dbTime scans a timestamp stored either as text (SQLite) or as a native
// time (PostgreSQL), and NULL.
type dbTime struct {
	t     time.Time
	valid bool
}

// TimeLayout is the fixed-width text form of timestamps in SQLite: it sorts
// as text in time order.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		d.valid = false
		return nil
	case time.Time:
		d.t, d.valid = x.UTC(), true
		return nil
	case string:
		return d.parse(x)
	case []byte:
		return d.parse(string(x))
	}
	return fmt.Errorf("cannot scan %T as a time", v)
}

func (d *dbTime) parse(s string) error {
	if s == "" {
		d.valid = false // a column added later, to rows that predate it
		return nil
	}
	if t, ok := parseTimeLayout(s); ok {
		d.t, d.valid = t, true
		return nil
	}
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("bad time %q: %w", s, err)
		}
	}
	d.t, d.valid = t.UTC(), true
	return nil
}

// parseTimeLayout reads a time written in TimeLayout, as SQLite stores
// every one, without the general parser (a tenth of reading many rows);
// ok is false for anything else, which time.Parse then reads.
func parseTimeLayout(s string) (time.Time, bool) {
	if len(s) != len(TimeLayout) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
		s[19] != '.' || s[26] != 'Z' {
		return time.Time{}, false
	}
	var v [7]int
	for i, f := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 26}} {
		for _, c := range []byte(s[f[0]:f[1]]) {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			v[i] = v[i]*10 + int(c-'0')
		}
	}
	if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], v[6]*1000, time.UTC)
	if t.Day() != v[2] {
		return time.Time{}, false // 31 April: time.Parse says what is wrong
	}
	return t, true
}
