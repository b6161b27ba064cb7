package campaign

import (
	"context"
	"errors"
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
// not have runs too, having never passed. An entry a --last-failed
// execution left out keeps its verdict from the execution it reran (see
// verdicts), so that rerunning again reruns only what still fails.
// execution is "" when there is no such execution.
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
		failed := map[int]bool{}
		if len(summary.Labels(c.ScriptConfigurations)) == 0 {
			// A row without its file's entries: by place, as they ran.
			for i, atts := range byIndex(entries) {
				if !passed(atts) {
					failed[i] = true
				}
			}
			return failed, c.ExecutionID, nil
		}
		passedBefore, err := verdicts(ctx, st, &c, entries)
		if err != nil {
			return nil, "", err
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

// rerunOfKey names, in a campaign row's Extra, the execution a
// --last-failed execution reran.
const rerunOfKey = "rerun_of"

// verdicts tells, for each entry (by identity) of execution c, whether it
// passed there. An entry c did not run because it was a --last-failed
// execution that left it out takes its verdict from the execution c reran,
// and so on back, up to lastFailedWindow executions; an entry no execution
// of that chain ran is missing (it never passed). A reran execution since
// deleted ends the chain.
func verdicts(ctx context.Context, st History, c *store.Campaign, entries []store.CampaignEntry) (map[string]bool, error) {
	out := map[string]bool{}
	for depth := 0; ; depth++ {
		ran := byIndex(entries)
		for i, id := range identities(summary.Labels(c.ScriptConfigurations)) {
			if _, known := out[id]; !known && len(ran[i]) > 0 {
				out[id] = passed(ran[i])
			}
		}
		prev, _ := c.Extra[rerunOfKey].(string)
		if prev == "" || depth == lastFailedWindow {
			return out, nil
		}
		var err error
		c, entries, err = st.GetCampaign(ctx, prev)
		if errors.Is(err, store.ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// byIndex groups a campaign's attempts by entry index.
func byIndex(entries []store.CampaignEntry) map[int][]store.CampaignEntry {
	out := map[int][]store.CampaignEntry{}
	for _, e := range entries {
		out[e.Index] = append(out[e.Index], e)
	}
	return out
}

// passed tells whether an entry's attempts end in a pass (flaky counts).
func passed(attempts []store.CampaignEntry) bool {
	s := summary.FinalStatus(attempts)
	return len(attempts) > 0 && (s == store.StatusPassed || s == store.StatusFlaky)
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
