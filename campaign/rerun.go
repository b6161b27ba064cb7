package campaign

import (
	"context"
	"fmt"

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
// newest of its last 20 that is not running) and the indexes, in the file
// as it is now (current: its entries' labels, summary.Labels), of the
// entries that did not pass there (flaky counts as passed): what
// --last-failed runs again (Options.Only). An entry is known by its label
// (its name:, else its script and parameters), not its place, so a file
// reordered since reruns what failed; an entry the previous execution did
// not have runs too, having never passed. execution is "" when there is no
// such execution.
func LastFailed(ctx context.Context, st History, campaignID string, current []string) (failed map[int]bool, execution string, err error) {
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
		passed := func(i int) bool {
			s := summary.FinalStatus(byIndex[i])
			return len(byIndex[i]) > 0 && (s == store.StatusPassed || s == store.StatusFlaky)
		}
		before := identities(summary.Labels(c.ScriptConfigurations))
		failed := map[int]bool{}
		if len(before) == 0 {
			// A row without its file's entries: by place, as they ran.
			for i := range byIndex {
				if !passed(i) {
					failed[i] = true
				}
			}
			return failed, c.ExecutionID, nil
		}
		passedBefore := map[string]bool{}
		for i, id := range before {
			passedBefore[id] = passed(i)
		}
		for i, id := range identities(current) {
			if !passedBefore[id] {
				failed[i] = true
			}
		}
		return failed, c.ExecutionID, nil
	}
	return nil, "", nil
}

// identities tells entries with the same label apart by their order:
// "zap", "zap#2".
func identities(labels []string) []string {
	seen := map[string]int{}
	out := make([]string, len(labels))
	for i, l := range labels {
		seen[l]++
		out[i] = l
		if n := seen[l]; n > 1 {
			out[i] = fmt.Sprintf("%s#%d", l, n)
		}
	}
	return out
}
