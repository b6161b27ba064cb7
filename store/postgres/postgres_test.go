package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres"
	"github.com/vpt-dev/vpt/store/postgres/pgtest"
	"github.com/vpt-dev/vpt/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		url := pgtest.FreshDB(t)
		return func() store.Store {
			s, err := store.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

// Several hosts opening a fresh database at once migrate it once.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.FreshDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.Open(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestBadServer(t *testing.T) {
	_, err := store.Open(context.Background(), "postgres://vpt:s3cret-pw@127.0.0.1:1/none?connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "xxxxx") {
		t.Fatalf("the URL in the error should show a hidden password: %v", err)
	}
}

func TestRebind(t *testing.T) {
	if got := postgres.Dialect.Rebind("a = ? AND b IN (?, ?)"); got != "a = $1 AND b IN ($2, $3)" {
		t.Fatal(got)
	}
}

// A database migrated by a newer vpt is refused, naming that vpt.
func TestNewerSchemaRefused(t *testing.T) {
	url := pgtest.FreshDB(t)
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(context.Background(),
		"INSERT INTO schema_migrations (version, name, applied_at, vpt_version) VALUES (999, '999_future.sql', 'now', 'v9.9.0')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = store.Open(context.Background(), url)
	if !errors.Is(err, store.ErrNewerSchema) || !strings.Contains(err.Error(), "this store was written by vpt v9.9.0") {
		t.Fatalf("error %v", err)
	}
}
