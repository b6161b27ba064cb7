package store

import "context"

// WithoutEvents returns s with an event log that is never written: the
// rows are, their events are dropped (the configuration's events: false).
// Reading the log still works.
func WithoutEvents(s Store) Store { return noEvents{s} }

type noEvents struct{ Store }

func (n noEvents) CreateResult(ctx context.Context, r *Result, _ ...Event) error {
	return n.Store.CreateResult(ctx, r)
}

func (n noEvents) UpdateResult(ctx context.Context, r *Result, _ ...Event) error {
	return n.Store.UpdateResult(ctx, r)
}

func (n noEvents) FinishResult(ctx context.Context, r *Result, _ ...Event) (bool, error) {
	return n.Store.FinishResult(ctx, r)
}

func (n noEvents) CreateCampaign(ctx context.Context, c *Campaign, _ ...Event) (bool, error) {
	return n.Store.CreateCampaign(ctx, c)
}

func (n noEvents) UpdateCampaign(ctx context.Context, c *Campaign, _ ...Event) error {
	return n.Store.UpdateCampaign(ctx, c)
}

func (n noEvents) FinishCampaign(ctx context.Context, c *Campaign, _ ...Event) (bool, error) {
	return n.Store.FinishCampaign(ctx, c)
}

func (n noEvents) PutCampaignEntry(ctx context.Context, e CampaignEntry, _ ...Event) error {
	return n.Store.PutCampaignEntry(ctx, e)
}

func (noEvents) AppendEvents(context.Context, ...Event) error { return nil }
