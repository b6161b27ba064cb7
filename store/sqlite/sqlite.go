// Package sqlite is the default results store: one SQLite file on
// mattn/go-sqlite3, shared safely by several vpt processes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"

	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Settings of every connection, in the DSN so that each pooled connection
// gets them:
//   - WAL: readers never block the writer (and vpt report list never blocks a run);
//   - busy_timeout: a writer waits for another process's transaction instead
//     of failing with "database is locked";
//   - txlock=immediate: transactions take the write lock up front, the only
//     way busy_timeout applies to a transaction that reads then writes;
//   - synchronous=NORMAL: durable at every checkpoint, safe with WAL: a
//     commit is not fsynced, so a power cut (not a crash of vpt) can lose
//     the last transactions. That is the trade: a run's final row write
//     costs no fsync, and what it records is in the run's result.json,
//     which is fsynced before the row is written and which recovery
//     trusts over the row (report.WriteFileAtomic);
//   - stmt_cache_size: each connection keeps its last 32 statements
//     prepared. A campaign repeats the same few writes for every entry
//     (the result's 35-column insert and update, the entry, the events),
//     and preparing them was a quarter of its time in SQLite.
const dsnOptions = "_journal_mode=WAL&_busy_timeout=30000&_foreign_keys=on&_synchronous=NORMAL&_txlock=immediate&_stmt_cache_size=32"

// Dialect is SQLite's: '?' placeholders and fixed-width UTC text times.
// SQLite has one writer at a time, so sequence numbers are in commit order
// without a lock; listeners poll (a read of the newest sequence number is
// an index lookup), often enough for a live view.
var Dialect = sqlstore.Dialect{
	Name:      "sqlite",
	Rebind:    func(q string) string { return q },
	Time:      func(t time.Time) any { return t.UTC().Format(sqlstore.TimeLayout) },
	EventPoll: EventPoll,
}

// EventPoll is how often a SQLite listener looks for new events.
const EventPoll = 50 * time.Millisecond

// driverName is mattn/go-sqlite3 with vpt's connection settings.
const driverName = "sqlite3-vpt"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// Keep the WAL file when the last connection closes (truncated to
		// nothing, journal_size_limit=0) instead of deleting it and its
		// wal-index: each vpt process would otherwise unlink both files on
		// close and create them again on open, with a sync of the folder.
		if err := c.SetFileControlInt("main", sqlite3.SQLITE_FCNTL_PERSIST_WAL, 1); err != nil {
			return err
		}
		_, err := c.Exec("PRAGMA journal_size_limit = 0", nil)
		return err
	}})
	store.Register("sqlite", func(ctx context.Context, url string) (store.Store, error) {
		return Open(ctx, strings.TrimPrefix(url, "sqlite://"))
	})
}

// Open opens (creating it and its folder if needed) the database at path and
// applies pending migrations.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite:// needs a file path", store.ErrBadURL)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("%w: sqlite path %q must not contain '?' or '#'", store.ErrBadURL, path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	// Processes opening a new database at once race to switch it to WAL,
	// which SQLite answers with "database is locked" without waiting:
	// such an open is tried again.
	deadline := time.Now().Add(openRetryFor)
	for {
		db, err := open(ctx, path)
		if err == nil {
			return db, nil
		}
		if !isBusy(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", store.ErrUnavailable, path, err)
		}
		time.Sleep(time.Duration(10+rand.Intn(40)) * time.Millisecond)
	}
}

// openRetryFor bounds the retries of a busy first open.
const openRetryFor = 30 * time.Second

func open(ctx context.Context, path string) (*sqlstore.DB, error) {
	db, err := sql.Open(driverName, path+"?"+dsnOptions)
	if err != nil {
		return nil, err
	}
	// One connection: SQLite has one writer at a time anyway, and a single
	// connection makes every statement of this process wait its turn here
	// rather than in SQLite's lock.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := sqlstore.Migrate(ctx, db, Dialect, migrations, "migrations", nil); err != nil {
		db.Close()
		return nil, err
	}
	s := sqlstore.New(db, Dialect)
	// Large reads (a campaign's results) go over connections of their own,
	// which only read: WAL lets them read beside the writer.
	s.SetReaders(func() (*sql.DB, error) {
		r, err := sql.Open(driverName, path+"?"+dsnOptions+"&_query_only=true")
		if err != nil {
			return nil, err
		}
		r.SetMaxOpenConns(2)
		return r, nil
	})
	return s, nil
}

func isBusy(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked
	}
	return strings.Contains(err.Error(), "database is locked")
}
