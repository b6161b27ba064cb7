// Package postgres is the results store for labs that share one database:
// PostgreSQL through pgx, several vpt processes and hosts writing at once.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/vpt-dev/vpt/internal/secret"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serialises migrations of
// hosts opening the same database at once (see migrate).
const migrationLock = 0x767074 // "vpt"

// eventLock is the advisory lock key that orders event appends.
const eventLock = 0x76707465 // "vpte"

// Dialect is PostgreSQL's: $n placeholders and native timestamps; event
// appends hold an advisory lock to their commit (sequence numbers in
// commit order) and NOTIFY listeners (see listener).
var Dialect = sqlstore.Dialect{
	Name:        "postgres",
	Rebind:      rebind,
	Time:        func(t time.Time) any { return t.UTC() },
	EventLock:   fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", eventLock),
	EventNotify: "SELECT pg_notify('" + eventChannel + "', '')",
	EventPoll:   2 * time.Second,
}

func init() {
	open := func(ctx context.Context, url string) (store.Store, error) { return Open(ctx, url) }
	store.Register("postgres", open)
	store.Register("postgresql", open)
}

// Open connects to the database at url and applies pending migrations.
func Open(ctx context.Context, url string) (*sqlstore.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", store.ErrBadURL, store.Redact(url), redactErr(err, url))
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %v", store.ErrUnavailable, store.Redact(url), redactErr(err, url))
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		var newer *sqlstore.NewerSchemaError
		if errors.As(err, &newer) {
			// Holds no secret, and carries its hint.
			return nil, fmt.Errorf("%w: %s: %w", store.ErrUnavailable, store.Redact(url), newer)
		}
		return nil, fmt.Errorf("%w: %s: %v", store.ErrUnavailable, store.Redact(url), redactErr(err, url))
	}
	st := sqlstore.New(db, Dialect)
	st.SetWaker(newListener(url))
	return st, nil
}

// A Migrator migrates tables that live in vpt's database beside its own
// (River's job queue, package agent). It runs after vpt's migrations,
// under the same advisory lock, and must do nothing when there is nothing
// to do.
type Migrator func(ctx context.Context, db *sql.DB) error

var (
	migratorsMu sync.Mutex
	migrators   []Migrator
)

// RegisterMigrator adds a Migrator to every Open; packages call it from init.
func RegisterMigrator(m Migrator) {
	migratorsMu.Lock()
	defer migratorsMu.Unlock()
	migrators = append(migrators, m)
}

// migrate applies vpt's migrations and the registered ones while holding
// the migration lock on a connection of its own: a session lock, since the
// registered migrators use transactions of their own. It excludes older vpt
// versions too, which take the same key as a transaction lock.
func migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	if err := sqlstore.Migrate(ctx, db, Dialect, migrations, "migrations", nil); err != nil {
		return err
	}
	migratorsMu.Lock()
	ms := append([]Migrator(nil), migrators...)
	migratorsMu.Unlock()
	for _, m := range ms {
		if err := m(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion is the number of the newest migration this vpt knows: the
// version of the database it expects. Agents and coordinators of one lab
// must agree on it.
func SchemaVersion() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	v := 0
	for _, n := range names {
		num, _, _ := strings.Cut(path.Base(n), "_")
		if x, err := strconv.Atoi(num); err == nil && x > v {
			v = x
		}
	}
	return v
}

// DatabaseSchema is the newest migration the database at db has seen
// (perhaps one of a newer vpt).
func DatabaseSchema(ctx context.Context, db *sql.DB) (int, error) {
	var v sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	return int(v.Int64), err
}

// rebind turns ? placeholders into $1, $2… (vpt's SQL has no ? inside
// string literals). Neither database/sql nor pgx rewrites placeholders
// (pgx speaks PostgreSQL's $n only; its NamedArgs rewrite @name), and
// sqlx.Rebind, which does this, is not worth a dependency for these lines.
// Writing $n in the shared SQL instead would bind right in SQLite only
// while each $n first appears in order, a trap for the next query.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// redactErr keeps the secrets of the URL (password, ?password=…) out of
// driver errors, whatever their length.
func redactErr(err error, url string) string {
	msg := err.Error()
	for _, s := range secret.URLSecrets(url) {
		msg = strings.ReplaceAll(msg, s, secret.Redacted)
	}
	return msg
}
