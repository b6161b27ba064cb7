package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// execer is what *sql.DB and *sql.Tx share.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// logging is e, logging its statements when the store logs (SetLog).
func (s *DB) logging(e execer) execer {
	if s.log == nil {
		return e
	}
	return loggedExecer{e, s}
}

type loggedExecer struct {
	execer
	s *DB
}

func (l loggedExecer) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	start := time.Now()
	res, err := l.execer.ExecContext(ctx, q, args...)
	l.s.logged("exec", q, start, err)
	return res, err
}

func (l loggedExecer) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	start := time.Now()
	rows, err := l.execer.QueryContext(ctx, q, args...)
	l.s.logged("query", q, start, err)
	return rows, err
}

func (l loggedExecer) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	start := time.Now()
	row := l.execer.QueryRowContext(ctx, q, args...)
	l.s.logged("query", q, start, row.Err())
	return row
}

// withEvents runs write, then appends evs, in one transaction: a reader of
// the log never hears of a row that was not written. write reports whether
// it changed anything; when it did not, the events are dropped with it.
// Without events write runs on its own, as it always did.
func (s *DB) withEvents(ctx context.Context, evs []store.Event, write func(execer) (bool, error)) error {
	if len(evs) == 0 {
		_, err := write(s.logging(s.db))
		return err
	}
	start := time.Now()
	defer s.logged("transaction", "", start, nil)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	changed, err := write(s.logging(tx))
	if err != nil {
		return err
	}
	if !changed {
		return nil
	}
	if err := s.insertEvents(ctx, tx, evs); err != nil {
		return err
	}
	return tx.Commit()
}

// insertEvents appends evs inside tx: the lock first (commit order is
// sequence order), the rows, then the notification, sent at commit.
func (s *DB) insertEvents(ctx context.Context, tx *sql.Tx, evs []store.Event) error {
	if s.d.EventLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.EventLock); err != nil {
			return fmt.Errorf("event lock: %w", err)
		}
	}
	// One statement for many of them (a run's start and end carry
	// several), within the databases' limits on parameters.
	for len(evs) > eventsPerInsert {
		if err := s.insertRows(ctx, tx, evs[:eventsPerInsert]); err != nil {
			return err
		}
		evs = evs[eventsPerInsert:]
	}
	if err := s.insertRows(ctx, tx, evs); err != nil {
		return err
	}
	if s.d.EventNotify != "" {
		if _, err := tx.ExecContext(ctx, s.d.EventNotify); err != nil {
			return fmt.Errorf("event notify: %w", err)
		}
	}
	return nil
}

// eventsPerInsert keeps one insert under SQLite's and PostgreSQL's limits
// on parameters (8 per event).
const eventsPerInsert = 500

func (s *DB) insertRows(ctx context.Context, tx *sql.Tx, evs []store.Event) error {
	var vals []string
	var args []any
	for _, e := range evs {
		if e.Type == "" {
			return fmt.Errorf("event without a type")
		}
		at := e.At
		if at.IsZero() {
			at = time.Now()
		}
		data := string(e.Data)
		if data == "" {
			data = "{}"
		}
		vals = append(vals, "(?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, string(e.Type), s.tv(at), e.RunID, e.CampaignID, e.HostName, e.DeviceID, e.Agent, data)
	}
	q := "INSERT INTO events (type, at, run_id, campaign_id, host_name, device_id, agent, data) VALUES " + strings.Join(vals, ", ")
	if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

// AppendEvents implements store.EventLog.
func (s *DB) AppendEvents(ctx context.Context, evs ...store.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return wrap("append events", s.withEvents(ctx, evs, func(execer) (bool, error) { return true, nil }))
}

// Events implements store.EventLog.
func (s *DB) Events(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	where := []string{"seq > ?"}
	args := []any{f.After}
	if f.Campaign != "" {
		where = append(where, "campaign_id = ?")
		args = append(args, f.Campaign)
	}
	if f.Run != "" {
		where = append(where, "run_id = ?")
		args = append(args, f.Run)
	}
	if len(f.Types) > 0 {
		where = append(where, "type IN ("+placeholders(len(f.Types))+")")
		for _, t := range f.Types {
			args = append(args, string(t))
		}
	}
	if !f.Before.IsZero() {
		where = append(where, "at < ?")
		args = append(args, s.tv(f.Before))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultEventLimit
	}
	q := fmt.Sprintf("SELECT seq, type, at, run_id, campaign_id, host_name, device_id, agent, data FROM events WHERE %s ORDER BY seq LIMIT %d",
		strings.Join(where, " AND "), limit)
	rows, err := s.query(ctx, s.q(q), args...)
	if err != nil {
		return nil, wrap("read events", err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var typ, data string
		var at dbTime
		if err := rows.Scan(&e.Seq, &typ, &at, &e.RunID, &e.CampaignID, &e.HostName, &e.DeviceID, &e.Agent, &data); err != nil {
			return nil, wrap("read events", err)
		}
		e.Type, e.At = store.EventType(typ), at.t
		if data != "" && data != "{}" {
			e.Data = []byte(data)
		}
		out = append(out, e)
	}
	return out, wrap("read events", rows.Err())
}

// LastEventSeq implements store.EventLog.
func (s *DB) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.queryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM events").Scan(&seq)
	return seq, wrap("last event", err)
}

// WaitEvents implements store.EventLog: it checks for a newer event, then
// waits for the waker (PostgreSQL's NOTIFY) or the poll interval.
func (s *DB) WaitEvents(ctx context.Context, after int64) error {
	poll := s.d.EventPoll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		var changed <-chan struct{}
		if s.waker != nil {
			// Taken before looking, so that a notification in between
			// is not lost.
			changed = s.waker.Changed()
		}
		last, err := s.LastEventSeq(ctx)
		if err != nil {
			return err
		}
		if last > after {
			return nil
		}
		t.Reset(poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
	}
}

// PruneEvents implements store.EventLog. The events of a run or a
// campaign still in the store stay with it (vpt report prune
// --keep-failed keeps old runs).
func (s *DB) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, s.q(`DELETE FROM events WHERE at < ?
		AND NOT EXISTS (SELECT 1 FROM script_results r WHERE r.id = events.run_id)
		AND NOT EXISTS (SELECT 1 FROM campaign_executions c WHERE c.campaign_execution_id = events.campaign_id)`), s.tv(before))
	if err != nil {
		return 0, wrap("prune events", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
