// Package summary is what a campaign execution did, entry by entry, as
// summary.json records it, and the judging of it: an entry's final status
// from its attempts (flaky, not run…) and the campaign's statistics. It
// belongs to the campaign and is judged only here; report renders it (the
// HTML page, JUnit) and knows no rule of its own. It is a package of its
// own so that report can import it: the campaign runner imports the
// executor, which imports report.
package summary

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/vpt-dev/vpt/internal/parallel"
	"github.com/vpt-dev/vpt/store"
)

// Schema names the version of summary.json's shape.
const Schema = "vpt.campaign/v1"

// Summary is summary.json (documented in docs/result-json.md).
type Summary struct {
	Schema   string          `json:"schema"`
	Campaign *store.Campaign `json:"campaign"`
	Entries  []Entry         `json:"entries"`
}

// FailOnFlakyKey is the key of the campaign row's execution_config that
// records --fail-on-flaky: a flaky entry then counts as failed.
const FailOnFlakyKey = "fail_on_flaky"

// FailsOnFlaky tells whether the campaign ran with --fail-on-flaky.
func FailsOnFlaky(c *store.Campaign) bool {
	m, ok := c.ExecutionConfig.(map[string]any)
	return ok && m[FailOnFlakyKey] == true
}

// Entry is one script configuration of the campaign and its attempts.
type Entry struct {
	Index  int    `json:"index"`
	Script string `json:"script_name"`
	// Label names the entry as a test: its name: in the file, else the
	// script and its parameters (nap[s=0.5]). It stays the same from one
	// execution to the next, whichever device runs it.
	Label string `json:"label"`
	// Parameters are the entry's parameters in the file, as the script
	// receives them.
	Parameters map[string]string `json:"parameters,omitempty"`
	Device     string            `json:"device_id"`
	Status     store.Status      `json:"status"`
	DurationMs int64             `json:"duration_ms"`
	Attempts   []Attempt         `json:"attempts"`
}

// Ran counts the attempts that ran (a not_run entry has one attempt row,
// which did not).
func (e Entry) Ran() int {
	n := 0
	for _, a := range e.Attempts {
		if a.Status != store.StatusNotRun && a.Status != "" {
			n++
		}
	}
	return n
}

// Attempt is one run of an entry.
type Attempt struct {
	Attempt   int          `json:"attempt"`
	Status    store.Status `json:"status"`
	Device    string       `json:"device_id"`
	ResultID  string       `json:"script_result_id,omitempty"`
	StartedAt time.Time    `json:"started_at"`
	// OffsetMs is when the attempt started, from the campaign's start.
	OffsetMs   int64  `json:"offset_ms"`
	DurationMs int64  `json:"duration_ms"`
	Report     string `json:"report,omitempty"` // relative to the campaign folder, or a URL
	RunDir     string `json:"run_dir,omitempty"`
	// Host ran the attempt, when not the campaign's host (an agent of a
	// distributed campaign): its run folder is RunDir on that host.
	Host  string `json:"host,omitempty"`
	Error string `json:"error,omitempty"`
	// Pruned: the attempt's run was deleted since (vpt report prune); its
	// status and duration stay, its report is gone.
	Pruned bool `json:"pruned,omitempty"`
}

// Linker gives the link from the campaign's report to a run's report
// (report.RunLink: relative when the run folder is here, else its URL).
// Build calls it from several goroutines at once.
type Linker func(r *store.Result) string

// Build groups a campaign's attempts by entry. results holds the script
// results of the attempts, by id (a pruned one is missing: its attempt
// keeps what the entry recorded).
func Build(c *store.Campaign, entries []store.CampaignEntry, results map[string]*store.Result, link Linker) Summary {
	entries = inOrder(entries)
	var starts []int // where each entry's attempts start
	for i := range entries {
		if i == 0 || entries[i].Index != entries[i-1].Index {
			starts = append(starts, i)
		}
	}
	sum := Summary{Schema: Schema, Campaign: c}
	configs := entryConfigs(c.ScriptConfigurations)
	if len(starts) > 0 {
		sum.Entries = make([]Entry, len(starts))
	}
	// Entries are made on every core: a link looks for the run's report
	// on disk, a system call per attempt.
	parallel.Chunks(len(starts), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			end := len(entries)
			if k+1 < len(starts) {
				end = starts[k+1]
			}
			sum.Entries[k] = entry(c, entries[starts[k]:end], configs, results, link)
		}
	})
	return sum
}

// inOrder is the attempts by entry, then attempt: as the stores read them,
// else a sorted copy.
func inOrder(entries []store.CampaignEntry) []store.CampaignEntry {
	byEntry := func(a, b store.CampaignEntry) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.Attempt, b.Attempt))
	}
	if slices.IsSortedFunc(entries, byEntry) {
		return entries
	}
	entries = slices.Clone(entries)
	slices.SortStableFunc(entries, byEntry)
	return entries
}

// entry is an entry of the campaign from its attempts, in order.
func entry(c *store.Campaign, atts []store.CampaignEntry, configs []entryConfig, results map[string]*store.Result, link Linker) Entry {
	i := atts[0].Index
	es := Entry{Index: i, Script: atts[0].ScriptName, Device: atts[len(atts)-1].DeviceID, Status: FinalStatus(atts)}
	es.Label = es.Script
	if i >= 0 && i < len(configs) && configs[i].ScriptName == es.Script {
		es.Label, es.Parameters = configs[i].label(), configs[i].Parameters
	}
	es.Attempts = make([]Attempt, 0, len(atts))
	for _, a := range atts {
		es.DurationMs += a.DurationMs
		es.Attempts = append(es.Attempts, attempt(c, a, results[a.ScriptResultID], link))
	}
	return es
}

func attempt(c *store.Campaign, a store.CampaignEntry, r *store.Result, link Linker) Attempt {
	as := Attempt{Attempt: a.Attempt, Status: a.Status, Device: a.DeviceID, ResultID: a.ScriptResultID,
		StartedAt: a.StartedAt, DurationMs: a.DurationMs, RunDir: a.RunDir, Error: a.Error}
	if !a.StartedAt.IsZero() && a.Status != store.StatusNotRun {
		as.OffsetMs = a.StartedAt.Sub(c.StartedAt).Milliseconds()
	}
	// A run made, then pruned: its attempt stays, unlinked.
	as.Pruned = r == nil && a.Status != store.StatusNotRun && a.Status != "" && !a.Requeued && (a.ScriptResultID != "" || a.RunDir != "")
	if r != nil {
		if link != nil {
			as.Report = link(r)
		}
		if as.RunDir == "" {
			as.RunDir = r.RunDir
		}
		if r.HostName != c.HostName {
			// Made on another host (an agent): its uploaded report is the
			// one every reader of this report can open.
			as.Host = r.HostName
			if r.HTMLReportR2URL != "" {
				as.Report = r.HTMLReportR2URL
			}
		}
	}
	return as
}

// FinalStatus is the status of a campaign entry from its attempts (in
// attempt order): not_run when none ran, flaky when it passed after a
// failure, else the last attempt's status. An attempt requeued because its
// device failed does not count.
func FinalStatus(attempts []store.CampaignEntry) store.Status {
	ran := false
	failedBefore := false
	last := store.StatusNotRun
	for _, a := range attempts {
		if a.Status == store.StatusNotRun || a.Status == "" || a.Requeued {
			continue
		}
		if ran && last != store.StatusPassed {
			failedBefore = true
		}
		ran = true
		last = a.Status
	}
	if last == store.StatusPassed && failedBefore {
		return store.StatusFlaky
	}
	return last
}

// Stats counts entries by final status. total is the number of entries
// in the file; entries no shard has recorded yet are not run (so far).
func Stats(sum Summary, total int) store.CampaignStats {
	s := store.CampaignStats{Total: total}
	for _, e := range sum.Entries {
		switch e.Status {
		case store.StatusPassed:
			s.Passed++
		case store.StatusFlaky:
			s.Flaky++
		case store.StatusFailed:
			s.Failed++
		case store.StatusTimeout:
			s.Timeout++
		case store.StatusError, store.StatusAbandoned:
			s.Error++
		case store.StatusInterrupted:
			s.Interrupted++
		case store.StatusNotRun:
			s.NotRun++
		}
		if e.Status != store.StatusNotRun {
			s.Completed++
		}
		s.DurationMs += e.DurationMs
	}
	if missing := total - len(sum.Entries); missing > 0 {
		s.NotRun += missing
	}
	return s
}

// Executions are the campaign executions the runs belong to, each once,
// in the order of the runs.
func Executions(runs []*store.Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range runs {
		if id := r.Details.CampaignID; id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Source is what Load reads from the results store.
type Source interface {
	GetCampaign(ctx context.Context, id string) (*store.Campaign, []store.CampaignEntry, error)
	CampaignResults(ctx context.Context, campaignID string) ([]store.Result, error)
}

// Load reads a campaign (by id, execution id or prefix), its attempts and
// their results from the store, in two reads at once, and summarises them.
// Every error of the store is returned; a result pruned since is no error.
func Load(ctx context.Context, st Source, id string, link Linker) (Summary, map[string]*store.Result, error) {
	// The results are read beside the entries, by the id given: a whole
	// id or execution id names the campaign GetCampaign finds. A prefix
	// names none, and its results are read once the campaign is known.
	var list []store.Result
	var listErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		list, listErr = st.CampaignResults(ctx, id)
	}()
	c, entries, err := st.GetCampaign(ctx, id)
	<-read
	if err != nil {
		return Summary{}, nil, err
	}
	if c.ID != id && c.ExecutionID != id {
		list, listErr = st.CampaignResults(ctx, c.ID)
	}
	if listErr != nil {
		return Summary{}, nil, listErr
	}
	results := make(map[string]*store.Result, len(list))
	for i := range list {
		results[list[i].ID] = &list[i]
	}
	return Build(c, entries, results, link), results, nil
}
