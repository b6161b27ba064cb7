package campaign

import (
	"context"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/store"
)

// History is what LastFailed reads of the results store.
type History interface {
	ListCampaigns(ctx context.Context, f store.CampaignFilter) ([]store.Campaign, error)
	GetCampaign(ctx context.Context, id string) (*store.Campaign, []store.CampaignEntry, error)
}

// lastFailedWindow is how many of a campaign's recent executions
// LastFailed looks through for one that finished.
const lastFailedWindow = 20

// LastFailed finds the previous finished execution of a campaign (the
// newest of its last 20 that is not running) and the indexes of its entries
// that did not pass (flaky counts as passed): what --last-failed runs
// again (Options.Only). execution is "" when there is no such execution.
func LastFailed(ctx context.Context, st History, campaignID string) (failed map[int]bool, execution string, err error) {
	list, err := st.ListCampaigns(ctx, store.CampaignFilter{CampaignID: campaignID, Limit: lastFailedWindow})
	if err != nil {
		return nil, "", err
	}
	for _, c := range list {
		if c.Status == StatusRunning {
			continue
		}
		_, entries, err := st.GetCampaign(ctx, c.ID)
		if err != nil {
			return nil, "", err
		}
		byIndex := map[int][]store.CampaignEntry{}
		for _, e := range entries {
			byIndex[e.Index] = append(byIndex[e.Index], e)
		}
		failed := map[int]bool{}
		for i, atts := range byIndex {
			if s := summary.FinalStatus(atts); s != store.StatusPassed && s != store.StatusFlaky {
				failed[i] = true
			}
		}
		return failed, c.ExecutionID, nil
	}
	return nil, "", nil
}
