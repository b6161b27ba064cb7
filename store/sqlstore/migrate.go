package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/internal/buildinfo"
	"github.com/vpt-dev/vpt/store"
)

// Migrate applies the numbered *.sql files of dir in fsys that the database
// has not seen yet, all inside one transaction. lock runs first inside that
// transaction and must serialise concurrent migrators (SQLite: the
// transaction is BEGIN IMMEDIATE already; PostgreSQL: an advisory lock), so
// that several processes opening a fresh database at once do not race.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS, dir string, lock func(*sql.Tx) error) error {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return err
	}
	sort.Strings(names)
	// Nearly every open finds every migration applied: a plain read says
	// so, without the write lock (SQLite) or the advisory lock (PostgreSQL)
	// the transaction below takes, which every vpt process would otherwise
	// take in turn, a report list too.
	if applied, err := appliedVersions(ctx, db); err == nil && allApplied(names, applied) {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if lock != nil {
		if err := lock(tx); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := refuseNewer(ctx, tx, d, names, applied); err != nil {
		return err
	}
	var now []any
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number and '_'", base)
		}
		if applied[v] {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, d.Rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			v, base, time.Now().UTC().Format(TimeLayout)); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		now = append(now, v)
	}
	// Which vpt applied them (the column is one of the migrations).
	if len(now) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(now)), ", ")
		if _, err := tx.ExecContext(ctx, d.Rebind("UPDATE schema_migrations SET vpt_version = ? WHERE version IN ("+marks+")"),
			append([]any{buildinfo.Version()}, now...)...); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return tx.Commit()
}

// appliedVersions reads the versions of the migrations applied.
func appliedVersions(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[int]bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// allApplied tells whether applied is exactly the migrations names holds:
// none to apply, none newer than this vpt knows.
func allApplied(names []string, applied map[int]bool) bool {
	if len(applied) != len(names) {
		return false
	}
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil || !applied[v] {
			return false
		}
	}
	return true
}

// refuseNewer refuses a database that has a migration this vpt does not
// know: a newer vpt wrote it (a lab shares one PostgreSQL between hosts of
// different versions), and this one might misread or damage its rows.
func refuseNewer(ctx context.Context, tx *sql.Tx, d Dialect, names []string, applied map[int]bool) error {
	known, newest := 0, 0
	for _, name := range names {
		if v, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0]); err == nil {
			known = max(known, v)
		}
	}
	for v := range applied {
		newest = max(newest, v)
	}
	if newest <= known {
		return nil
	}
	by := "a newer vpt"
	var version string
	if err := tx.QueryRowContext(ctx, d.Rebind("SELECT vpt_version FROM schema_migrations WHERE version = ?"), newest).Scan(&version); err == nil && version != "" {
		by = "vpt " + version
	}
	return &NewerSchemaError{By: by, Schema: newest, Known: known}
}

// NewerSchemaError is a store migrated past what this vpt knows.
type NewerSchemaError struct {
	By            string // "vpt v1.4.0", or "a newer vpt"
	Schema, Known int
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("this store was written by %s (schema version %d; this vpt, %s, knows up to %d); upgrade",
		e.By, e.Schema, buildinfo.Version(), e.Known)
}

// Unwrap returns store.ErrNewerSchema.
func (e *NewerSchemaError) Unwrap() error { return store.ErrNewerSchema }

// HintText says what to do.
func (e *NewerSchemaError) HintText() string {
	return "install the vpt the other hosts of this store run, or point --store at a store of its own"
}
