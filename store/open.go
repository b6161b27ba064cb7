package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	open, err := opener(url)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadURL, Redact(url), err)
	}
	return open(ctx, url)
}

// CheckScheme says what is wrong with the scheme of a store URL, without
// opening it (nil: a store is registered under it).
func CheckScheme(url string) error {
	_, err := opener(url)
	return err
}

func opener(url string) (Opener, error) {
	scheme, _, ok := strings.Cut(url, "://")
	if !ok {
		return nil, errors.New("expected sqlite://PATH or postgres://USER@HOST/DB")
	}
	openersMu.Lock()
	defer openersMu.Unlock()
	if open := openers[scheme]; open != nil {
		return open, nil
	}
	known := slices.Sorted(maps.Keys(openers))
	return nil, fmt.Errorf("unknown scheme %q (known: %s)", scheme, strings.Join(known, ", "))
}

// Redact hides the password of a database URL and its secret query
// parameters (?password=, ?sslpassword=…), for messages.
func Redact(url string) string { return secret.RedactURL(url) }
