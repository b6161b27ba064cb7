package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/store"
)

// Files of a campaign folder.
const (
	CampaignHTML = "index.html"
	SummaryJSON  = "summary.json"
	JUnitXML     = "junit.xml"
)

// RunLink is how the campaign report in dir links a run's report: relative
// when the run folder is on this machine, else its uploaded URL.
func RunLink(dir string) summary.Linker {
	abs, _ := filepath.Abs(dir)
	return func(r *store.Result) string {
		if r.RunDir != "" {
			if _, err := os.Stat(filepath.Join(r.RunDir, ReportHTML)); err == nil {
				if rel, err := filepath.Rel(abs, filepath.Join(r.RunDir, ReportHTML)); err == nil {
					return filepath.ToSlash(rel)
				}
			}
		}
		return r.HTMLReportR2URL
	}
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
func WriteCampaign(dir string, sum summary.Summary) error {
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
func RenderCampaign(w *bytes.Buffer, sum summary.Summary) error {
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
func JUnitForCampaign(sum summary.Summary, results map[string]*store.Result, perDevice bool) JUnit {
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
