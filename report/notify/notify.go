// Package notify tells people that a run or a campaign finished: a JSON
// summary posted to webhooks, with a Slack-compatible "text" field (Slack,
// Mattermost, Rocket.Chat and Teams' incoming webhooks read it).
//
// Contract: Send never fails a run. It retries with backoff what may pass
// on a second try (network errors, 429, 5xx), gives up on the rest, and
// reports each webhook it could not reach through Warn, naming the
// webhook by its scheme and host only: the path of a webhook URL is its
// secret.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// When to notify.
const (
	OnFailure = "failure" // only what did not pass
	OnAlways  = "always"
)

// Schema names the format of the summary.
const Schema = "vpt.notification/v1"

// Summary is the JSON body posted.
type Summary struct {
	Text       string         `json:"text"`
	Schema     string         `json:"schema"`
	Kind       string         `json:"kind"` // run, campaign
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Status     string         `json:"status"`
	Passed     bool           `json:"passed"`
	Host       string         `json:"host"`
	Device     string         `json:"device,omitempty"`
	DurationMs int64          `json:"duration_ms"`
	Counts     map[string]int `json:"counts"`
	Failures   []Failure      `json:"failures"`
	Report     string         `json:"report,omitempty"` // a URL, or the report's path on the host
}

// Failure is one run that did not pass.
type Failure struct {
	Script string `json:"script"`
	Device string `json:"device"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	RunID  string `json:"run_id,omitempty"`
	Report string `json:"report,omitempty"`
}

// Links say where reports are: BaseURL is vpt report serve's address
// ("" when there is none).
type Links struct {
	BaseURL string
}

func (l Links) run(res *store.Result) string {
	switch {
	case l.BaseURL != "":
		return strings.TrimRight(l.BaseURL, "/") + "/runs/" + url.PathEscape(res.ID)
	case res.HTMLReportR2URL != "":
		return res.HTMLReportR2URL
	case res.RunDir != "":
		return filepath.Join(res.RunDir, report.ReportHTML)
	}
	return ""
}

// ForRun summarises a finished run.
func ForRun(res *store.Result, l Links) Summary {
	s := Summary{Schema: Schema, Kind: "run", ID: res.ID, Name: res.ScriptName, Status: string(res.Status),
		Passed: res.Status == store.StatusPassed, Host: res.HostName, Device: res.DeviceID, DurationMs: res.ExecutionTimeMs,
		Counts: map[string]int{string(res.Status): 1}, Failures: []Failure{}, Report: l.run(res)}
	if !s.Passed {
		s.Failures = append(s.Failures, Failure{Script: res.ScriptName, Device: res.DeviceID, Status: string(res.Status),
			Reason: firstLine(res.ErrorMsg), RunID: res.ID, Report: s.Report})
	}
	s.Text = fmt.Sprintf("%s %s: %s on %s (%s) in %s", icon(s.Passed), strings.ToUpper(s.Status), res.ScriptName, res.DeviceID,
		res.HostName, report.FormatDuration(time.Duration(res.ExecutionTimeMs)*time.Millisecond))
	if r := firstLine(res.ErrorMsg); r != "" && !s.Passed {
		s.Text += "\n" + r
	}
	if s.Report != "" {
		s.Text += "\n" + s.Report
	}
	return s
}

// ForCampaign summarises a finished campaign (one shard of it, or the
// whole execution).
func ForCampaign(sum summary.Summary, results map[string]*store.Result, passed bool, l Links) Summary {
	c := sum.Campaign
	s := Summary{Schema: Schema, Kind: "campaign", ID: c.ExecutionID, Name: c.Name, Status: c.Status, Passed: passed,
		Host: c.HostName, DurationMs: c.ExecutionTimeMs, Counts: map[string]int{}, Failures: []Failure{}}
	switch {
	case l.BaseURL != "":
		s.Report = strings.TrimRight(l.BaseURL, "/") + "/campaigns/" + url.PathEscape(c.ExecutionID)
	case c.HTMLReportR2URL != "":
		s.Report = c.HTMLReportR2URL
	case c.ReportDir != "":
		s.Report = filepath.Join(c.ReportDir, report.CampaignHTML)
	}
	for _, e := range sum.Entries {
		s.Counts[string(e.Status)]++
		if e.Status == store.StatusPassed || e.Status == store.StatusFlaky {
			continue
		}
		f := Failure{Script: e.Script, Device: e.Device, Status: string(e.Status)}
		if n := len(e.Attempts); n > 0 {
			a := e.Attempts[n-1]
			f.Reason, f.RunID = firstLine(a.Error), a.ResultID
			if res := results[a.ResultID]; res != nil {
				f.Report = l.run(res)
			}
		}
		s.Failures = append(s.Failures, f)
	}
	st := c.Stats
	s.Text = fmt.Sprintf("%s %s: campaign %s on %s, %d of %d passed", icon(passed), strings.ToUpper(c.Status), c.Name, c.HostName,
		st.Passed+st.Flaky, st.Total)
	if st.Flaky > 0 {
		s.Text += fmt.Sprintf(" (%d flaky)", st.Flaky)
	}
	s.Text += " in " + report.FormatDuration(time.Duration(c.ExecutionTimeMs)*time.Millisecond)
	for i, f := range s.Failures {
		if i == 10 {
			s.Text += fmt.Sprintf("\n… and %d more", len(s.Failures)-10)
			break
		}
		s.Text += fmt.Sprintf("\n• %s on %s: %s", f.Script, f.Device, f.Status)
		if f.Reason != "" {
			s.Text += " — " + f.Reason
		}
	}
	if s.Report != "" {
		s.Text += "\n" + s.Report
	}
	return s
}

func icon(passed bool) string {
	if passed {
		return "✅"
	}
	return "❌"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}

// Notifier posts summaries to webhooks.
type Notifier struct {
	URLs []string
	On   string // OnFailure or OnAlways
	// Attempts per webhook (0: 4), the first wait between them (0: 1 s,
	// doubling) and the limit of one attempt (0: 10 s).
	Attempts int
	Backoff  time.Duration
	Timeout  time.Duration
	Client   *http.Client
	// Warn reports a webhook that could not be told (stderr).
	Warn func(format string, args ...any)
}

// Wants tells whether an outcome is to be sent.
func (n *Notifier) Wants(passed bool) bool {
	return len(n.URLs) > 0 && (n.On == OnAlways || n.On == "" || !passed)
}

// Check validates webhook URLs before anything runs.
func Check(urls []string) error {
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("--notify %s: not an http:// or https:// URL", Redact(u))
		}
	}
	return nil
}

// Send posts s to every webhook, each with its retries, and returns once
// all are done or given up on.
func (n *Notifier) Send(ctx context.Context, s Summary) {
	if !n.Wants(s.Passed) {
		return
	}
	body, err := json.Marshal(s)
	if err != nil {
		n.warn("notification not sent: %v", err)
		return
	}
	done := make(chan struct{}, len(n.URLs))
	for _, u := range n.URLs {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := n.post(ctx, u, body); err != nil {
				n.warn("notification to %s failed: %v (the verdict stands)", Redact(u), err)
			}
		}()
	}
	for range n.URLs {
		<-done
	}
}

func (n *Notifier) post(ctx context.Context, u string, body []byte) error {
	attempts, wait, timeout := n.Attempts, n.Backoff, n.Timeout
	if attempts <= 0 {
		attempts = 4
	}
	if wait <= 0 {
		wait = time.Second
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	client := n.Client
	if client == nil {
		client = &http.Client{}
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (after %d attempts)", err, i)
			case <-time.After(wait):
			}
			wait *= 2
		}
		var again bool
		again, err = n.once(ctx, client, u, body, timeout)
		if err == nil || !again {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%w (%d attempt(s))", err, attempts)
	}
	return nil
}

// once posts one time; again says whether another try may pass.
func (n *Notifier) once(ctx context.Context, client *http.Client, u string, body []byte, timeout time.Duration) (again bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", u, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("bad webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vpt")
	resp, err := client.Do(req)
	if err != nil {
		// The URL (the secret) is in url.Error: say what failed without it.
		var ue *url.Error
		if e, ok := err.(*url.Error); ok {
			ue = e
			return true, ue.Err
		}
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == 429 || resp.StatusCode >= 500:
		return true, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return false, fmt.Errorf("HTTP %d", resp.StatusCode)
}

func (n *Notifier) warn(format string, args ...any) {
	if n.Warn != nil {
		n.Warn(format, args...)
	}
}

// Redact shows a webhook URL by its scheme and host: its path and query
// are its secret (Slack's hooks.slack.com/services/T…/B…/…).
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "a webhook"
	}
	return p.Scheme + "://" + p.Host + "/…"
}
