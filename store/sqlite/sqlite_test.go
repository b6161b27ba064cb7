package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/sqlite"
	"github.com/vpt-dev/vpt/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		path := filepath.Join(t.TempDir(), "sub", "vpt.db")
		return func() store.Store {
			s, err := store.Open(context.Background(), "sqlite://"+path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := sqlite.Open(ctx, ""); err == nil {
		t.Fatal("empty path accepted")
	}
	if _, err := store.Open(ctx, "mysql://x"); err == nil {
		t.Fatal("unknown scheme accepted")
	}
	// A folder where the database file should be.
	dir := t.TempDir()
	if _, err := sqlite.Open(ctx, dir); err == nil {
		t.Fatal("a directory opened as a database")
	}
}

// Processes opening a new database at once all get it.
func TestConcurrentFirstOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			s, err := sqlite.Open(context.Background(), path)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// The WAL outlives the connections, emptied: closing does not delete it
// (and its wal-index) only for the next open to create them again.
func TestWALKeptEmpty(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vpt.db")
	for i := 0; i < 2; i++ {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateResult(ctx, &store.Result{ID: store.NewID(), TeamID: "t", ScriptName: "s", ScriptType: "s",
			HostName: "h", DeviceName: "d", Status: store.StatusRunning}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		fi, err := os.Stat(path + "-wal")
		if err != nil || fi.Size() != 0 {
			t.Fatalf("after close %d: WAL %v, %v", i, fi, err)
		}
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rows, err := s.RunningResults(ctx); err != nil || len(rows) != 2 {
		t.Fatalf("rows after reopening: %d, %v", len(rows), err)
	}
}

// Opening a migrated database takes no write lock: a report list opens
// the store while another process holds a long write transaction (here a
// plain connection), and reads at once instead of waiting for it to end.
func TestOpenBesideAWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vpt.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	writer, err := sql.Open("sqlite3", path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	tx, err := writer.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("INSERT INTO events (type, at, data) VALUES ('x', '', '{}')"); err != nil {
		t.Fatal(err)
	}
	// Without the write lock the open is immediate; with it, it waits for
	// the writer (30 s of busy timeout), which this deadline cuts short.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open beside a writer: %v", err)
	}
	defer s.Close()
	if _, err := s.ListResults(ctx, store.ResultFilter{Limit: 10}); err != nil {
		t.Fatalf("read beside a writer: %v", err)
	}
}
