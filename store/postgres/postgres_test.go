package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/vpt-dev/vpt/store"
	"github.com/vpt-dev/vpt/store/postgres"
	"github.com/vpt-dev/vpt/store/storetest"
)

// serverURL is the PostgreSQL server scripts/test starts (a throwaway
// cluster on 127.0.0.1); without it these tests are skipped.
func serverURL(t *testing.T) string {
	u := os.Getenv("VPT_TEST_POSTGRES")
	if u == "" {
		t.Skip("VPT_TEST_POSTGRES is not set: run scripts/test, which starts a PostgreSQL server")
	}
	return u
}

var dbCount struct {
	sync.Mutex
	n int
}

// freshDB creates an empty database and returns its URL.
func freshDB(t *testing.T) string {
	t.Helper()
	base := serverURL(t)
	admin, err := postgres.Open(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	dbCount.Lock()
	dbCount.n++
	name := fmt.Sprintf("vpt_test_%d_%d", os.Getpid(), dbCount.n)
	dbCount.Unlock()
	if _, err := admin.SQL().Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := postgres.Open(context.Background(), base)
		if err == nil {
			a.SQL().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	})
	i := strings.LastIndex(base, "/")
	q := ""
	if j := strings.Index(base[i:], "?"); j >= 0 {
		q = base[i+j:]
	}
	return base[:i+1] + name + q
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		url := freshDB(t)
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
	url := freshDB(t)
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
