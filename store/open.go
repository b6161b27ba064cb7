package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/vpt-dev/vpt/internal/secret"
)

// Opener opens a store from its URL.
type Opener func(ctx context.Context, url string) (Store, error)

var (
	openersMu sync.Mutex
	openers   = map[string]Opener{}
)

// Register makes a store implementation available under a URL scheme
// ("sqlite", "postgres"). Implementations call it from init.
func Register(scheme string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	openers[scheme] = open
}

// Open opens the store named by url (sqlite://path, postgres://…),
// creating and migrating the database as needed.
func Open(ctx context.Context, url string) (Store, error) {
	scheme, _, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("%w %q: expected sqlite://PATH or postgres://USER@HOST/DB", ErrBadURL, Redact(url))
	}
	openersMu.Lock()
	open := openers[scheme]
	known := make([]string, 0, len(openers))
	for k := range openers {
		known = append(known, k)
	}
	openersMu.Unlock()
	if open == nil {
		sort.Strings(known)
		return nil, fmt.Errorf("%w %q: unknown scheme %q (known: %s)", ErrBadURL, Redact(url), scheme, strings.Join(known, ", "))
	}
	return open(ctx, url)
}

// Redact hides the password of a database URL and its secret query
// parameters (?password=, ?sslpassword=…), for messages.
func Redact(url string) string { return secret.RedactURL(url) }
