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
	if id == "" || id == "latest" {
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
	return res, err
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
