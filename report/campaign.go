package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/internal/parallel"
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

// WriteCampaign writes summary.json, junit.xml and index.html into the
// campaign folder. results are the script results of the attempts, by id
// (JUnit shows their output and files; a missing one is a pruned run).
func WriteCampaign(dir string, sum summary.Summary, results map[string]*store.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The three files are made at once: each takes a third of the time of
	// a large campaign's report.
	var g errgroup.Group
	g.Go(func() error {
		b, err := json.Marshal(sum)
		if err != nil {
			return err
		}
		// The same bytes as MarshalIndent, in a third of the time.
		out := indentJSON(make([]byte, 0, len(b)*7/4), b)
		return WriteFileAtomic(filepath.Join(dir, SummaryJSON), append(out, '\n'))
	})
	g.Go(func() error {
		return WriteJUnit(filepath.Join(dir, JUnitXML), JUnitForCampaign(sum, results, false))
	})
	g.Go(func() error {
		var buf bytes.Buffer
		buf.Grow(64<<10 + 200*len(sum.Entries)) // about the page's length: it grows once at most
		if err := RenderCampaign(&buf, sum); err != nil {
			return err
		}
		return WriteFileAtomic(filepath.Join(dir, CampaignHTML), buf.Bytes())
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return linkAttempts(sum, results)
}

// linkAttempts writes again the run reports of the entries that ran more
// than once, each linking the others (a run's report is written when it
// ends, before its entry's next attempt exists). Runs not here are passed
// over.
func linkAttempts(sum summary.Summary, results map[string]*store.Result) error {
	for _, e := range sum.Entries {
		if e.Ran() < 2 {
			continue
		}
		for _, a := range e.Attempts {
			r := results[a.ResultID]
			if r == nil || r.RunDir == "" || !exists(filepath.Join(r.RunDir, ReportHTML)) {
				continue
			}
			var links []AttemptLink
			for _, b := range e.Attempts {
				if b.Status == store.StatusNotRun || b.Status == "" {
					continue
				}
				l := AttemptLink{Attempt: b.Attempt, Status: b.Status, This: b.ResultID == a.ResultID}
				if o := results[b.ResultID]; o != nil && o.RunDir != "" && exists(filepath.Join(o.RunDir, ReportHTML)) {
					if rel, err := filepath.Rel(r.RunDir, filepath.Join(o.RunDir, ReportHTML)); err == nil {
						l.Href = filepath.ToSlash(rel)
					}
				}
				links = append(links, l)
			}
			if err := WriteRunAttempts(r, links); err != nil {
				return fmt.Errorf("run %s: %w", r.ID, err)
			}
		}
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
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
			atts = append(atts, []any{a.Attempt, a.Status, a.Report, a.DurationMs, a.Device, a.OffsetMs, a.ResultID, a.Error, where, a.Pruned})
		}
		rows = append(rows, []any{e.Index, e.Script, e.Device, e.Status, e.DurationMs, atts,
			cmp.Or(e.Label, e.Script), paramsText(e.Parameters), why(e)})
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

// paramsText is an entry's parameters as the page shows them: k=v, in
// key order.
func paramsText(ps map[string]string) string {
	parts := make([]string, 0, len(ps))
	for _, k := range slices.Sorted(maps.Keys(ps)) {
		parts = append(parts, k+"="+ps[k])
	}
	return strings.Join(parts, " ")
}

// why is the reason an entry did not pass: its last attempt's error, or
// for a flaky one the first failure it recovered from.
func why(e summary.Entry) string {
	switch e.Status {
	case store.StatusPassed:
		return ""
	case store.StatusFlaky:
		for _, a := range e.Attempts {
			if a.Status != store.StatusPassed && a.Status != store.StatusNotRun && a.Error != "" {
				return "recovered from: " + firstLineOr(a.Error, "")
			}
		}
		return ""
	}
	return firstLineOr(e.Attempts[len(e.Attempts)-1].Error, string(e.Status))
}

// JUnitForCampaign is the JUnit document of a campaign: one testsuite for
// the campaign (or one per device), one test case per entry. A case's
// identity is stable: its classname is the campaign's id and its name the
// entry's label, whichever device ran it (the device is a property). The
// last attempt decides; earlier attempts that did not pass are kept as
// flakyFailure (the entry passed later) or rerunFailure elements, as Maven
// Surefire and Gradle write them, and listed in system-out.
func JUnitForCampaign(sum summary.Summary, results map[string]*store.Result, perDevice bool) JUnit {
	j := JUnit{Name: sum.Campaign.Name}
	if len(sum.Entries) > 0 {
		j.Cases = make([]JUnitCase, len(sum.Entries))
	}
	// Cases are made on every core: each reads the end of its output.log.
	parallel.Chunks(len(sum.Entries), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			j.Cases[k] = junitCase(sum.Campaign, sum.Entries[k], results, perDevice)
		}
	})
	return j
}

// junitCase is the test case of a campaign entry.
func junitCase(c *store.Campaign, e summary.Entry, results map[string]*store.Result, perDevice bool) JUnitCase {
	suite := c.Name
	if perDevice {
		suite = c.Name + "." + e.Device
	}
	jc := JUnitCase{Name: cmp.Or(e.Label, e.Script), Suite: suite, Classname: cmp.Or(c.CampaignID, c.Name),
		Status: e.Status, Attempts: e.Ran(), Duration: time.Duration(e.DurationMs) * time.Millisecond}
	last := e.Attempts[len(e.Attempts)-1]
	if r := results[last.ResultID]; r != nil {
		jc.Result = r
		if r.RunDir != "" {
			jc.Tail, _ = ReadTail(filepath.Join(r.RunDir, OutputLog), junitTailBytes(e.Status))
		}
	}
	junitAttempts(&jc, e)
	switch e.Status {
	case store.StatusFlaky:
		jc.Flaky = true
		jc.Properties = append(jc.Properties, JUnitProperty{"flaky", "true"})
		jc.Note = flakyNote(e)
		jc.Status = store.StatusPassed
		if summary.FailsOnFlaky(c) {
			// The exit code counts it as failed: so does the file.
			jc.Failed = jc.Note + " (--fail-on-flaky counts it as failed)"
		}
	case store.StatusNotRun:
		jc.Note = firstLineOr(last.Error, "not run")
		jc.Result = nil
	}
	return jc
}

// junitTailBytes is how much of an entry's output its test case shows: a
// passing entry's is cut short (10,000 passing entries would otherwise make
// 320 MB of JUnit, where GitLab takes 30 MB a file); the others keep the
// tail the run's own report shows.
func junitTailBytes(s store.Status) int64 {
	if s == store.StatusPassed {
		return junitPassedBytes
	}
	return TailBytes
}

// junitAttempts adds the entry's device, attempts and parameters as
// properties, its earlier attempts that did not pass as reruns, and a line
// per attempt when there were several.
func junitAttempts(jc *JUnitCase, e summary.Entry) {
	jc.Properties = append(jc.Properties, JUnitProperty{"device", e.Device}, JUnitProperty{"attempts", strconv.Itoa(e.Ran())})
	for _, k := range slices.Sorted(maps.Keys(e.Parameters)) {
		jc.Properties = append(jc.Properties, JUnitProperty{"parameter." + k, e.Parameters[k]})
	}
	for _, a := range e.Attempts[:len(e.Attempts)-1] {
		if a.Status != store.StatusPassed && a.Status != store.StatusNotRun {
			jc.Reruns = append(jc.Reruns, JUnitRerun{Attempt: a.Attempt, Status: a.Status, Message: firstLineOr(a.Error, string(a.Status))})
		}
	}
	if len(e.Attempts) > 1 {
		for _, a := range e.Attempts {
			jc.History = append(jc.History, attemptLine(a))
		}
	}
}

// flakyNote says which attempts failed before the one that passed.
func flakyNote(e summary.Entry) string {
	var failed []string
	for _, a := range e.Attempts[:len(e.Attempts)-1] {
		if a.Status != store.StatusPassed && a.Status != store.StatusNotRun {
			failed = append(failed, strconv.Itoa(a.Attempt))
		}
	}
	word := "attempt"
	if len(failed) > 1 {
		word = "attempts"
	}
	return fmt.Sprintf("flaky: failed on %s %s, passed on attempt %d", word, strings.Join(failed, ", "), e.Attempts[len(e.Attempts)-1].Attempt)
}

// attemptLine is one attempt in a test case's system-out.
func attemptLine(a summary.Attempt) string {
	line := fmt.Sprintf("attempt %d: %s", a.Attempt, a.Status)
	if a.Device != "" {
		line += " on " + a.Device
	}
	if a.DurationMs > 0 {
		line += " in " + FormatDuration(time.Duration(a.DurationMs)*time.Millisecond)
	}
	if a.Error != "" && a.Status != store.StatusPassed {
		line += ": " + firstLineOr(a.Error, "")
	}
	if a.ResultID != "" {
		line += " (run " + a.ResultID + ")"
	}
	return line
}

// CampaignDir is the folder of a campaign execution's reports.
func CampaignDir(resultsDir, executionID string) string {
	return filepath.Join(resultsDir, "campaigns", executionID)
}
