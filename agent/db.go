package agent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/vpt-dev/vpt/internal/secret"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres"
)

// River's tables (its job queue) live in vpt's database and are migrated
// with vpt's own tables, under the same advisory lock, whenever a vpt
// process opens a PostgreSQL store.
func init() { postgres.RegisterMigrator(migrateRiver) }

func migrateRiver(ctx context.Context, db *sql.DB) error {
	m, err := rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// Errors of the lab.
var (
	// ErrNeedsPostgres: agents and distributed campaigns share a
	// PostgreSQL database; another store cannot serve them.
	ErrNeedsPostgres = errors.New("a PostgreSQL store is needed")
	// ErrSchema: this vpt and the database (or an agent) are of different
	// schema versions.
	ErrSchema = errors.New("different vpt schema versions")
	// ErrNameTaken: a live agent has that name.
	ErrNameTaken = errors.New("agent name in use")
)

// CheckURL refuses a store that is not PostgreSQL, saying what to do.
func CheckURL(url, what string) error {
	scheme, _, _ := strings.Cut(url, "://")
	if scheme == "postgres" || scheme == "postgresql" {
		return nil
	}
	return &labError{msg: fmt.Sprintf("%s needs the lab's shared PostgreSQL store, not %s", what, store.Redact(url)),
		hint: "pass --store postgres://USER@HOST/DB (the same on every host), or set store: in vpt.yaml", err: ErrNeedsPostgres}
}

// labError is an error of the lab with a hint for the person.
type labError struct {
	msg, hint string
	err       error
}

func (e *labError) Error() string    { return e.msg }
func (e *labError) Unwrap() error    { return e.err }
func (e *labError) HintText() string { return e.hint }

// openPool connects to the lab's database. The store has been opened (and
// migrated) first.
func openPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", store.ErrBadURL, store.Redact(url), redactErr(err, url))
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s", store.ErrUnavailable, store.Redact(url), redactErr(err, url))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: %s: %s", store.ErrUnavailable, store.Redact(url), redactErr(err, url))
	}
	return pool, nil
}

func redactErr(err error, url string) string {
	msg := err.Error()
	for _, s := range secret.URLSecrets(url) {
		msg = strings.ReplaceAll(msg, s, secret.Redacted)
	}
	return msg
}

// checkSchema refuses a database migrated by a newer vpt than this one:
// its agents and coordinators would not understand each other.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	var v *int
	if err := pool.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	if v != nil && *v > postgres.SchemaVersion() {
		return fmt.Errorf("%w: the database has schema %d, this vpt knows %d: upgrade vpt on this host (every host of a lab runs the same version)",
			ErrSchema, *v, postgres.SchemaVersion())
	}
	return nil
}

// insertOnly is a River client that inserts and cancels jobs but works none.
func insertOnly(pool *pgxpool.Pool, log *slog.Logger) (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: log})
}
