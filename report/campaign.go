package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// Files of a campaign folder.
const (
	CampaignHTML = "index.html"
	SummaryJSON  = "summary.json"
	JUnitXML     = "junit.xml"
	// CampaignSchema names the version of summary.json's shape.
	CampaignSchema = "vpt.campaign/v1"
)

// CampaignSummary is summary.json (documented in docs/result-json.md).
type CampaignSummary struct {
	Schema   string          `json:"schema"`
	Campaign *store.Campaign `json:"campaign"`
	Entries  []EntrySummary  `json:"entries"`
}

// EntrySummary is one script configuration of the campaign and its attempts.
type EntrySummary struct {
	Index      int              `json:"index"`
	Script     string           `json:"script_name"`
	Device     string           `json:"device_id"`
	Status     store.Status     `json:"status"`
	DurationMs int64            `json:"duration_ms"`
	Attempts   []AttemptSummary `json:"attempts"`
}

// AttemptSummary is one run of an entry.
type AttemptSummary struct {
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
}

// Summarize groups a campaign's attempts by entry. results holds the
// script results of the attempts, by id; dir is the campaign folder
// (reports are linked relative to it).
func Summarize(c *store.Campaign, entries []store.CampaignEntry, results map[string]*store.Result, dir string) CampaignSummary {
	byIndex := map[int][]store.CampaignEntry{}
	var order []int
	for _, e := range entries {
		if _, ok := byIndex[e.Index]; !ok {
			order = append(order, e.Index)
		}
		byIndex[e.Index] = append(byIndex[e.Index], e)
	}
	sort.Ints(order)
	sum := CampaignSummary{Schema: CampaignSchema, Campaign: c}
	for _, i := range order {
		atts := byIndex[i]
		sort.Slice(atts, func(a, b int) bool { return atts[a].Attempt < atts[b].Attempt })
		es := EntrySummary{Index: i, Script: atts[0].ScriptName, Device: atts[len(atts)-1].DeviceID, Status: store.FinalStatus(atts)}
		for _, a := range atts {
			as := AttemptSummary{Attempt: a.Attempt, Status: a.Status, Device: a.DeviceID, ResultID: a.ScriptResultID,
				StartedAt: a.StartedAt, DurationMs: a.DurationMs, RunDir: a.RunDir, Error: a.Error}
			if !a.StartedAt.IsZero() && a.Status != store.StatusNotRun {
				as.OffsetMs = a.StartedAt.Sub(c.StartedAt).Milliseconds()
			}
			if r := results[a.ScriptResultID]; r != nil {
				as.Report = reportLink(dir, r)
				if as.RunDir == "" {
					as.RunDir = r.RunDir
				}
				if r.HostName != c.HostName {
					// Made on another host (an agent): its uploaded report
					// is the one every reader of this report can open.
					as.Host = r.HostName
					if r.HTMLReportR2URL != "" {
						as.Report = r.HTMLReportR2URL
					}
				}
			}
			es.DurationMs += a.DurationMs
			es.Attempts = append(es.Attempts, as)
		}
		sum.Entries = append(sum.Entries, es)
	}
	return sum
}

// reportLink links a run's report from the campaign folder: relative when
// the run folder is on this machine, else its uploaded URL.
func reportLink(dir string, r *store.Result) string {
	if r.RunDir != "" {
		if _, err := os.Stat(filepath.Join(r.RunDir, ReportHTML)); err == nil {
			abs, _ := filepath.Abs(dir)
			if rel, err := filepath.Rel(abs, filepath.Join(r.RunDir, ReportHTML)); err == nil {
				return filepath.ToSlash(rel)
			}
		}
	}
	return r.HTMLReportR2URL
}

// campaignPage is what the campaign template shows.
type campaignPage struct {
	C       *store.Campaign
	S       store.CampaignStats
	Devices []string
	Rows    int
	// Data is the entries in a compact form for the page's script, which
	// renders them a page at a time so 10,000 entries stay usable.
	Data any
}

// WriteCampaign writes index.html and summary.json into the campaign folder.
func WriteCampaign(dir string, sum CampaignSummary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dir, SummaryJSON), append(b, '\n')); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := RenderCampaign(&buf, sum); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, CampaignHTML), buf.Bytes())
}

// RenderCampaign renders the campaign report.
func RenderCampaign(w *bytes.Buffer, sum CampaignSummary) error {
	devices := map[string]bool{}
	rows := make([][]any, 0, len(sum.Entries))
	for _, e := range sum.Entries {
		atts := make([][]any, 0, len(e.Attempts))
		for _, a := range e.Attempts {
			devices[a.Device] = true
			where := ""
			if a.Host != "" && a.RunDir != "" {
				where = a.Host + ":" + a.RunDir
			}
			atts = append(atts, []any{a.Attempt, a.Status, a.Report, a.DurationMs, a.Device, a.OffsetMs, a.ResultID, a.Error, where})
		}
		rows = append(rows, []any{e.Index, e.Script, e.Device, e.Status, e.DurationMs, atts})
	}
	p := campaignPage{C: sum.Campaign, S: sum.Campaign.Stats, Rows: len(rows), Data: rows}
	for d := range devices {
		if d != "" {
			p.Devices = append(p.Devices, d)
		}
	}
	sort.Strings(p.Devices)
	return templates().ExecuteTemplate(w, "campaign.html.tmpl", p)
}

// JUnitForCampaign is the JUnit document of a campaign: one testsuite for
// the campaign (or one per device), one test case per entry.
func JUnitForCampaign(sum CampaignSummary, results map[string]*store.Result, perDevice bool) JUnit {
	c := sum.Campaign
	j := JUnit{Name: c.Name}
	for _, e := range sum.Entries {
		suite := c.Name
		if perDevice {
			suite = c.Name + "." + e.Device
		}
		jc := JUnitCase{Name: e.Script, Suite: suite, Classname: cmp.Or(c.CampaignID, c.Name) + "." + e.Device,
			Status: e.Status, Attempts: len(e.Attempts), Duration: time.Duration(e.DurationMs) * time.Millisecond}
		last := e.Attempts[len(e.Attempts)-1]
		if r := results[last.ResultID]; r != nil {
			jc.Result = r
			if r.RunDir != "" {
				jc.Tail, _ = ReadTail(filepath.Join(r.RunDir, OutputLog), TailBytes)
			}
		}
		switch e.Status {
		case store.StatusFlaky:
			jc.Note = "flaky: failed, then passed on attempt " + strconv.Itoa(last.Attempt)
			jc.Status = store.StatusPassed
		case store.StatusNotRun:
			jc.Note = firstLineOr(last.Error, "not run")
			jc.Result = nil
		}
		j.Cases = append(j.Cases, jc)
	}
	return j
}

// CampaignDir is the folder of a campaign execution's reports.
func CampaignDir(resultsDir, executionID string) string {
	return filepath.Join(resultsDir, "campaigns", executionID)
}

// CampaignSource is what LoadCampaign reads from the results store.
type CampaignSource interface {
	GetCampaign(ctx context.Context, id string) (*store.Campaign, []store.CampaignEntry, error)
	GetResult(ctx context.Context, id string) (*store.Result, error)
}

// LoadCampaign reads a campaign, its attempts and their results from the
// store and summarises them for the folder dir.
func LoadCampaign(ctx context.Context, st CampaignSource, id, dir string) (CampaignSummary, map[string]*store.Result, error) {
	c, entries, err := st.GetCampaign(ctx, id)
	if err != nil {
		return CampaignSummary{}, nil, err
	}
	results := map[string]*store.Result{}
	for _, e := range entries {
		if e.ScriptResultID == "" {
			continue
		}
		r, err := st.GetResult(ctx, e.ScriptResultID)
		if err != nil {
			continue // pruned since
		}
		results[r.ID] = r
	}
	return Summarize(c, entries, results, dir), results, nil
}
