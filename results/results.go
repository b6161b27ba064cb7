// Package results maintains what a machine has recorded: it finds a result
// by id, prefix or "latest", prunes old results (the row, the run folder,
// the uploaded copy; then the campaigns that held them and the latest link,
// so that no reference is left pointing at nothing) and rebuilds reports
// from the store after an upgrade.
// It sits above report (which renders files) and store (which keeps rows):
// its operations change both together, in the order that keeps them
// consistent.
package results

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/store"
)

// Store is what results maintenance needs of the results store.
type Store interface {
	summary.Source
	GetResult(ctx context.Context, id string) (*store.Result, error)
	ListResults(ctx context.Context, f store.ResultFilter) ([]store.Result, error)
	DeleteResult(ctx context.Context, id string) error
	ListCampaigns(ctx context.Context, f store.CampaignFilter) ([]store.Campaign, error)
	DeleteCampaign(ctx context.Context, id string) error
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
}

// NotFoundError: no result answers to the id (it wraps store.ErrNotFound,
// a usage error); its hint says what to do.
type NotFoundError struct {
	ID string // "" when there are no results at all
}

func (e *NotFoundError) Error() string {
	if e.ID == "" {
		return "no results yet"
	}
	return fmt.Sprintf("no result %q", e.ID)
}

// Unwrap returns store.ErrNotFound.
func (e *NotFoundError) Unwrap() error { return store.ErrNotFound }

// HintText says how to find or make one.
func (e *NotFoundError) HintText() string {
	if e.ID == "" {
		return "run a script first: vpt run SCRIPT"
	}
	return "list results with: vpt report list"
}

// Find finds a result, with its details, by full id, unique id prefix, or
// "latest" (or "": the newest run). Errors: *NotFoundError, store's
// ErrAmbiguous, or the store's own.
func Find(ctx context.Context, st Store, id string) (*store.Result, error) {
	if strings.TrimSpace(id) == "" {
		return nil, &IDError{Msg: "an empty run id", Hint: `give a run's id or a prefix of it (vpt report list shows them), or "latest"`, err: store.ErrNotFound}
	}
	if isUUIDPrefix(id) {
		id = strings.ToLower(id) // run ids are lower-case; a copied one may not be
	}
	if id == "latest" {
		rows, err := st.ListResults(ctx, store.ResultFilter{Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return nil, &NotFoundError{}
		}
		id = rows[0].ID
	}
	res, err := st.GetResult(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &NotFoundError{ID: id}
	}
	if errors.Is(err, store.ErrAmbiguous) {
		return nil, &IDError{Msg: fmt.Sprintf("%q is the prefix of several runs' ids", id), Hint: "give more of it: vpt report list shows them", err: err}
	}
	return res, err
}

// IDError is a run id that names no one run (empty, or the prefix of
// several), with what to give instead.
type IDError struct {
	Msg, Hint string
	err       error
}

func (e *IDError) Error() string    { return e.Msg }
func (e *IDError) HintText() string { return e.Hint }

// Unwrap returns store.ErrAmbiguous or, for an empty id, store.ErrNotFound.
func (e *IDError) Unwrap() error { return e.err }

// isUUIDPrefix tells whether id can be the start of a run id: hex digits
// and dashes.
func isUUIDPrefix(id string) bool {
	for _, c := range id {
		if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Full lists the results f selects with their details (ListResults leaves
// the details out).
func Full(ctx context.Context, st Store, f store.ResultFilter) ([]*store.Result, error) {
	rows, err := st.ListResults(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]*store.Result, 0, len(rows))
	for _, r := range rows {
		full, err := st.GetResult(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, full)
	}
	return out, nil
}
