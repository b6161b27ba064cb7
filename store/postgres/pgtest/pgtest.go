// Package pgtest gives a test an empty database of its own on the
// PostgreSQL server scripts/test starts (VPT_TEST_POSTGRES), dropped when
// the test ends.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/vpt-dev/vpt/internal/testenv"
	"github.com/vpt-dev/vpt/store/postgres"
)

// ServerVar names the test server.
const ServerVar = "VPT_TEST_POSTGRES"

// ServerURL is the test server's URL (testenv.Missing without one).
func ServerURL(t testing.TB) string {
	t.Helper()
	return testenv.Server(t, ServerVar, "a throwaway PostgreSQL server")
}

var created atomic.Int64

// FreshDB creates an empty database and returns its URL: the server's,
// with the database's name for path.
func FreshDB(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", ServerVar, err)
	}
	admin, err := postgres.Open(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The process id keeps the databases of test binaries running at once
	// apart.
	name := fmt.Sprintf("vpt_test_%d_%d", os.Getpid(), created.Add(1))
	if _, err := admin.SQL().Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := postgres.Open(context.Background(), base); err == nil {
			a.SQL().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	})
	u.Path = "/" + name
	return u.String()
}
