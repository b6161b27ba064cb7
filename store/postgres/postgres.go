// Package postgres is the results store for labs that share one database:
// PostgreSQL through pgx, several vpt processes and hosts writing at once.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/vpt-dev/vpt/internal/secret"
	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serialises migrations of
// hosts opening the same database at once.
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
	lock := func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock)
		return err
	}
	if err := sqlstore.Migrate(ctx, db, Dialect, migrations, "migrations", lock); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %v", store.ErrUnavailable, store.Redact(url), redactErr(err, url))
	}
	st := sqlstore.New(db, Dialect)
	st.SetWaker(newListener(url))
	return st, nil
}

// rebind turns ? placeholders into $1, $2… (vpt's SQL has no ? inside
// string literals).
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
