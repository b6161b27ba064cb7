package serve

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// pageSize is the number of results of one page of runs.
const pageSize = 50

var pages = sync.OnceValue(func() map[string]*template.Template {
	funcs := template.FuncMap{
		"ms":    func(ms int64) string { return report.FormatDuration(time.Duration(ms) * time.Millisecond) },
		"when":  func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
		"epoch": func(t time.Time) int64 { return t.UnixMilli() },
		"pct":   func(v float64) string { return fmt.Sprintf("%.0f%%", v*100) },
		"short": func(id string) string { return id[:min(8, len(id))] },
		"file":  fileURL,
		"add":   func(a, b int) int { return a + b },
		"mul6":  func(n int) int { return 6 * n },
		"list": func() []store.Status {
			return []store.Status{store.StatusRunning, store.StatusPassed, store.StatusFailed, store.StatusError,
				store.StatusTimeout, store.StatusInterrupted, store.StatusAbandoned}
		},
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"runs", "run", "campaigns", "campaign", "devices", "trends"} {
		out[name] = template.Must(template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.tmpl", "templates/"+name+".tmpl"))
	}
	return out
})

// fileURL is the URL of a file of a run folder, by its path relative to
// the folder.
func fileURL(runID, rel string) string {
	if rel == "" {
		return ""
	}
	return "/files/runs/" + url.PathEscape(runID) + "/" + (&url.URL{Path: rel}).EscapedPath()
}

// view is what every page's layout needs.
type view struct {
	Title  string
	Nav    string
	Stream string // the page's event stream
	Data   any
}

// render writes a page, or only its live part (?fragment=1) for the page's
// script to swap in when events say it changed.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	t := pages()[name]
	part := "layout"
	if r.URL.Query().Get("fragment") != "" {
		part = "main"
	}
	if err := t.ExecuteTemplate(w, part, v); err != nil {
		s.cfg.Log.Warn("page", "page", name, "err", err)
	}
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	s.cfg.Log.Warn("page", "err", err)
	http.Error(w, "the results store failed: "+err.Error(), http.StatusServiceUnavailable)
}

// runRow is one run of a list.
type runRow struct {
	store.Result
	Campaign string
	// Of a running run: steps so far and the steps its script took last
	// time, and when it should end from the median of its history.
	Step, Steps int
	ETAMs       int64 // -1 unknown
	HasETA      bool
}

type runsData struct {
	Filter  map[string]string
	Running []runRow
	Rows    []runRow
	Next    string // query of the next (older) page
	First   bool
}

var runFilters = []string{"script", "device", "host", "campaign", "status", "from", "to"}

func (s *Server) pageRuns(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	d := runsData{Filter: map[string]string{}, First: q.Get("after") == ""}
	for _, k := range runFilters {
		d.Filter[k] = q.Get(k)
	}
	f, err := resultFilter(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	running := f
	running.Statuses, running.After, running.Limit = []store.Status{store.StatusRunning}, nil, pageSize
	if d.First && (f.Statuses == nil || f.Statuses[0] == store.StatusRunning) {
		rows, err := s.cfg.Store.ListResults(ctx, running)
		if err != nil {
			s.fail(w, err)
			return
		}
		for _, res := range rows {
			d.Running = append(d.Running, s.liveRow(ctx, res))
		}
	}
	rows, err := s.cfg.Store.ListResults(ctx, f)
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, res := range rows {
		if res.Status != store.StatusRunning || f.Statuses != nil {
			d.Rows = append(d.Rows, runRow{Result: res})
		}
	}
	if len(rows) == f.Limit {
		last := rows[len(rows)-1]
		nq := url.Values{}
		for k, v := range d.Filter {
			if v != "" {
				nq.Set(k, v)
			}
		}
		nq.Set("after", strconv.FormatInt(last.StartedAt.UnixNano(), 10)+"_"+last.ID)
		d.Next = nq.Encode()
	}
	s.render(w, r, "runs", view{Title: "Runs", Nav: "runs", Stream: "/events?types=run.started,run.finished,run.step", Data: d})
}

// resultFilter reads a runs page's filters.
func resultFilter(q url.Values) (store.ResultFilter, error) {
	f := store.ResultFilter{Script: q.Get("script"), Device: q.Get("device"), Host: q.Get("host"), Campaign: q.Get("campaign"), Limit: pageSize}
	if st := q.Get("status"); st != "" {
		f.Statuses = []store.Status{store.Status(st)}
	}
	for _, d := range []struct {
		key string
		dst *time.Time
		add time.Duration
	}{{"from", &f.Since, 0}, {"to", &f.Before, 24 * time.Hour}} {
		if v := q.Get(d.key); v != "" {
			t, err := time.ParseInLocation("2006-01-02", v, time.Local)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not a date (YYYY-MM-DD)", d.key, v)
			}
			*d.dst = t.Add(d.add)
		}
	}
	if a := q.Get("after"); a != "" {
		ns, id, ok := strings.Cut(a, "_")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil {
			return f, fmt.Errorf("after: %q is not a page position", a)
		}
		f.After = &store.Cursor{StartedAt: time.Unix(0, n), ID: id}
	}
	return f, nil
}

// liveRow adds to a running run what its history predicts.
func (s *Server) liveRow(ctx context.Context, res store.Result) runRow {
	row := runRow{Result: res, ETAMs: -1}
	steps, _ := s.stepsSoFar(ctx, res.ID)
	row.Step = len(steps)
	if prev, err := s.cfg.Store.ListResults(ctx, store.ResultFilter{Script: res.ScriptName, Device: res.DeviceID,
		Statuses: []store.Status{store.StatusPassed}, Limit: 1}); err == nil && len(prev) == 1 {
		if full, err := s.cfg.Store.GetResult(ctx, prev[0].ID); err == nil {
			row.Steps = len(full.Details.Steps)
		}
	}
	if durs, err := s.cfg.Store.RecentDurations(ctx, []string{res.ScriptName}, res.DeviceID, 0); err == nil && len(durs[res.ScriptName]) > 0 {
		row.HasETA = true
		row.ETAMs = max(0, store.MedianMs(durs[res.ScriptName])-time.Since(res.StartedAt).Milliseconds())
	}
	return row
}

// stepsSoFar are a running run's steps, from its events (its row gets
// them when it ends), and its screenshots.
func (s *Server) stepsSoFar(ctx context.Context, runID string) ([]store.RunStep, []store.RunScreenshot) {
	evs, err := s.cfg.Store.Events(ctx, store.EventFilter{Run: runID, Types: []store.EventType{store.EventRunStep, store.EventRunScreenshot},
		Limit: 5000})
	if err != nil {
		return nil, nil
	}
	byNumber := map[int]store.RunStep{}
	var shots []store.RunScreenshot
	for _, e := range evs {
		if e.Type == store.EventRunScreenshot {
			var sc store.RunScreenshot
			if e.Decode(&sc) == nil {
				shots = append(shots, sc)
			}
			continue
		}
		var st store.RunStep
		if e.Decode(&st) == nil {
			byNumber[st.Number] = st
		}
	}
	steps := make([]store.RunStep, 0, len(byNumber))
	for _, st := range byNumber {
		steps = append(steps, st)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].Number < steps[j].Number })
	return steps, shots
}

type runData struct {
	Row   runRow
	Live  bool
	Steps []store.RunStep
	Shots []store.RunScreenshot
	Video string
	// Report is the URL of report.html when the folder is on this machine.
	Report string
}

func (s *Server) pageRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	res, err := s.cfg.Store.GetResult(ctx, r.PathValue("id"))
	if err != nil {
		http.Error(w, "no such run", http.StatusNotFound)
		return
	}
	d := runData{Row: runRow{Result: *res}, Live: res.Status == store.StatusRunning}
	if d.Live {
		d.Row = s.liveRow(ctx, *res)
		d.Steps, d.Shots = s.stepsSoFar(ctx, res.ID)
	} else {
		for _, st := range res.Details.Steps {
			d.Steps = append(d.Steps, store.RunStep{Number: st.Number, Name: st.Name, Kind: st.Kind, Status: st.Status,
				Message: st.Message, Error: st.Error, DurationMs: st.DurationMs})
		}
		for _, sc := range res.Details.Screenshots {
			d.Shots = append(d.Shots, store.RunScreenshot{Label: sc.Label, Path: sc.Path, Thumbnail: sc.Thumbnail, OffsetMs: sc.OffsetMs})
		}
		if v := res.Details.Video; v != nil && v.Path != "" && s.here(res.ID, v.Path) {
			d.Video = fileURL(res.ID, v.Path)
		}
		if fi, err := s.root.Stat(path.Join("runs", res.ID, report.ReportHTML)); err == nil && fi.Mode().IsRegular() {
			d.Report = fileURL(res.ID, report.ReportHTML)
		}
	}
	// Pictures are shown once on disk here: a screenshot is announced as
	// it is taken and written just after, and the folders of runs of other
	// hosts are not on this one.
	shots := d.Shots[:0]
	for _, sc := range d.Shots {
		if s.here(res.ID, sc.Thumbnail) {
			shots = append(shots, sc)
		}
	}
	d.Shots = shots
	s.render(w, r, "run", view{Title: res.ScriptName + " on " + res.DeviceID, Nav: "runs",
		Stream: "/events?run=" + url.QueryEscape(res.ID), Data: d})
}

func (s *Server) pageCampaigns(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Store.ListCampaigns(r.Context(), store.CampaignFilter{Name: r.URL.Query().Get("name"), Limit: 100})
	if err != nil {
		s.fail(w, err)
		return
	}
	s.render(w, r, "campaigns", view{Title: "Campaigns", Nav: "campaigns", Stream: "/events?types=campaign.", Data: list})
}

// entryRow is one entry of a campaign: its last attempt.
type entryRow struct {
	Index    int
	Script   string
	Status   store.Status
	Device   string
	Attempts int
	Duration int64
	RunID    string
	Error    string
}

// lane is one device's attempts, in time order.
type lane struct {
	Device string
	Boxes  []laneBox
}

type laneBox struct {
	Script string
	Status store.Status
	RunID  string
	Left   float64 // percent of the campaign's time
	Width  float64
}

type campaignData struct {
	C        *store.Campaign
	Entries  []entryRow
	Lanes    []lane
	Counts   map[string]int
	ETAMs    int64
	HasETA   bool
	Running  bool
	Controls bool
}

func (s *Server) pageCampaign(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, entries, err := s.cfg.Store.GetCampaign(ctx, r.PathValue("id"))
	if err != nil {
		http.Error(w, "no such campaign", http.StatusNotFound)
		return
	}
	d := campaignData{C: c, Counts: map[string]int{}, Running: c.Status == "running", Controls: s.cfg.AllowControl}
	d.Entries = campaignEntries(c, entries)
	d.Lanes = campaignLanes(c, entries)
	var queued []string
	for _, e := range d.Entries {
		d.Counts[string(e.Status)]++
		if e.Status == "queued" {
			queued = append(queued, e.Script)
		}
	}
	if d.Running && len(queued) > 0 {
		d.ETAMs, d.HasETA = s.campaignETA(ctx, c, queued, len(d.Lanes))
	}
	s.render(w, r, "campaign", view{Title: c.Name, Nav: "campaigns", Stream: "/events?campaign=" + url.QueryEscape(c.ExecutionID), Data: d})
}

// campaignEntries lists every entry of the file: those not started yet as
// queued, the others by their last attempt.
func campaignEntries(c *store.Campaign, entries []store.CampaignEntry) []entryRow {
	byIndex := map[int]*entryRow{}
	var rows []*entryRow
	if list, ok := c.ScriptConfigurations.([]any); ok {
		for i, sc := range list {
			name := ""
			if m, ok := sc.(map[string]any); ok {
				name, _ = m["script_name"].(string)
			}
			row := &entryRow{Index: i, Script: name, Status: "queued"}
			byIndex[i] = row
			rows = append(rows, row)
		}
	}
	for _, e := range entries {
		row := byIndex[e.Index]
		if row == nil {
			row = &entryRow{Index: e.Index}
			byIndex[e.Index] = row
			rows = append(rows, row)
		}
		row.Script, row.Status, row.Device, row.Duration, row.RunID, row.Error = e.ScriptName, e.Status, e.DeviceID, e.DurationMs, e.ScriptResultID, e.Error
		if e.Status != store.StatusNotRun {
			row.Attempts++
		}
	}
	for _, e := range entries {
		// Flaky: failed, then passed on a retry.
		if row := byIndex[e.Index]; row.Status == store.StatusPassed && row.Attempts > 1 {
			row.Status = summary.FinalStatus(attemptsOf(entries, e.Index))
		}
	}
	out := make([]entryRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

func attemptsOf(entries []store.CampaignEntry, index int) []store.CampaignEntry {
	var out []store.CampaignEntry
	for _, e := range entries {
		if e.Index == index {
			out = append(out, e)
		}
	}
	return out
}

// campaignLanes places each attempt on its device's lane, in proportion
// to the campaign's time so far.
func campaignLanes(c *store.Campaign, entries []store.CampaignEntry) []lane {
	end := time.Now()
	if c.CompletedAt != nil {
		end = *c.CompletedAt
	}
	span := float64(max(end.Sub(c.StartedAt).Milliseconds(), 1))
	byDevice := map[string]*lane{}
	var names []string
	for _, e := range entries {
		if e.DeviceID == "" || e.Status == store.StatusNotRun {
			continue
		}
		l := byDevice[e.DeviceID]
		if l == nil {
			l = &lane{Device: e.DeviceID}
			byDevice[e.DeviceID] = l
			names = append(names, e.DeviceID)
		}
		dur := e.DurationMs
		if e.Status == store.StatusRunning {
			dur = time.Since(e.StartedAt).Milliseconds()
		}
		left := float64(e.StartedAt.Sub(c.StartedAt).Milliseconds()) / span * 100
		width := float64(dur) / span * 100
		l.Boxes = append(l.Boxes, laneBox{Script: e.ScriptName, Status: e.Status, RunID: e.ScriptResultID,
			Left: clamp(left), Width: max(0.5, clamp(width))})
	}
	sort.Strings(names)
	out := make([]lane, 0, len(names))
	for _, n := range names {
		out = append(out, *byDevice[n])
	}
	return out
}

func clamp(v float64) float64 { return max(0, min(v, 100)) }

// campaignETA: the queued entries' median durations, shared among the
// campaign's devices.
func (s *Server) campaignETA(ctx context.Context, c *store.Campaign, queued []string, devices int) (int64, bool) {
	durs, err := s.cfg.Store.RecentDurations(ctx, queued, "", 0)
	if err != nil {
		return 0, false
	}
	var total, known int64
	for _, sc := range queued {
		if m := store.MedianMs(durs[sc]); m > 0 {
			total += m
			known++
		}
	}
	if known == 0 {
		return 0, false
	}
	// Scripts without history count as the average of those with.
	total += (total / known) * (int64(len(queued)) - known)
	return total / int64(max(devices, 1)), true
}

// deviceCard is one device of the devices page.
type deviceCard struct {
	Device
	State  string // idle, busy, down
	Reason string
	Run    *store.Result
	// Thumb is the device's last known picture when no run shows it live.
	Thumb string
	Since time.Time
}

func (s *Server) pageDevices(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	running, err := s.cfg.Store.ListResults(ctx, store.ResultFilter{Statuses: []store.Status{store.StatusRunning}, Host: s.cfg.HostName, Limit: 500})
	if err != nil {
		s.fail(w, err)
		return
	}
	down := s.devicesDown(ctx)
	var cards []deviceCard
	for _, dev := range s.cfg.Devices {
		card := deviceCard{Device: dev, State: "idle"}
		for i := range running {
			if running[i].DeviceID == dev.ID {
				card.State, card.Run, card.Since = "busy", &running[i], running[i].StartedAt
			}
		}
		if card.State == "idle" {
			if e, ok := down[dev.ID]; ok {
				var dd store.DeviceData
				e.Decode(&dd)
				card.State, card.Reason, card.Since = "down", dd.Reason, e.At
			}
			card.Thumb = s.lastPicture(ctx, dev.ID)
		}
		cards = append(cards, card)
	}
	s.render(w, r, "devices", view{Title: "Devices", Nav: "devices", Stream: "/events?types=device.,run.started,run.finished&frames=1", Data: cards})
}

// devicesDown are the devices whose last device event says down.
func (s *Server) devicesDown(ctx context.Context) map[string]store.Event {
	out := map[string]store.Event{}
	last, err := s.cfg.Store.LastEventSeq(ctx)
	if err != nil {
		return out
	}
	evs, err := s.cfg.Store.Events(ctx, store.EventFilter{After: max(0, last-20000), Limit: 20000,
		Types: []store.EventType{store.EventDeviceDown, store.EventDeviceBusy, store.EventDeviceIdle}})
	if err != nil {
		return out
	}
	for _, e := range evs {
		if e.HostName != "" && s.cfg.HostName != "" && e.HostName != s.cfg.HostName {
			continue
		}
		if e.Type == store.EventDeviceDown {
			out[e.DeviceID] = e
		} else {
			delete(out, e.DeviceID)
		}
	}
	return out
}

// lastPicture is the thumbnail of the last screenshot of a device's last
// run on this host.
func (s *Server) lastPicture(ctx context.Context, device string) string {
	rows, err := s.cfg.Store.ListResults(ctx, store.ResultFilter{Device: device, Host: s.cfg.HostName, Limit: 1})
	if err != nil || len(rows) == 0 {
		return ""
	}
	res, err := s.cfg.Store.GetResult(ctx, rows[0].ID)
	if err != nil || len(res.Details.Screenshots) == 0 {
		return ""
	}
	thumb := res.Details.Screenshots[len(res.Details.Screenshots)-1].Thumbnail
	if !s.here(res.ID, thumb) {
		return ""
	}
	return fileURL(res.ID, thumb)
}

// here tells whether a file of a run folder is in this host's results
// folder.
func (s *Server) here(runID, rel string) bool {
	if !validID(runID) || rel == "" {
		return false
	}
	fi, err := s.root.Stat(path.Join("runs", runID, rel))
	return err == nil && fi.Mode().IsRegular()
}

// trendRow is one script of the trends page.
type trendRow struct {
	store.ScriptTrend
	Bars []bar
}

// bar is one run of a script's sparkline (SVG coordinates).
type bar struct {
	X, Y, H float64
	Status  store.Status
	Title   string
}

type trendsData struct {
	Rows     []trendRow
	Flakiest []trendRow
	Window   int
}

// Trends computes the trends page's figures (and vpt report trends').
func Trends(ctx context.Context, st store.Store, window int, since time.Time) ([]store.ScriptTrend, []store.ScriptTrend, error) {
	trends, err := st.Trends(ctx, store.TrendFilter{Window: window, Since: since})
	if err != nil {
		return nil, nil, err
	}
	var flaky []store.ScriptTrend
	for _, t := range trends {
		if t.Flips() > 0 {
			flaky = append(flaky, t)
		}
	}
	sort.SliceStable(flaky, func(i, j int) bool { return flaky[i].Flakiness() > flaky[j].Flakiness() })
	if len(flaky) > 10 {
		flaky = flaky[:10]
	}
	return trends, flaky, nil
}

func (s *Server) pageTrends(w http.ResponseWriter, r *http.Request) {
	window, _ := strconv.Atoi(r.URL.Query().Get("window"))
	if window <= 0 || window > 500 {
		window = store.DefaultTrendWindow
	}
	trends, flaky, err := Trends(r.Context(), s.cfg.Store, window, time.Time{})
	if err != nil {
		s.fail(w, err)
		return
	}
	d := trendsData{Window: window}
	for _, t := range trends {
		d.Rows = append(d.Rows, trendRow{ScriptTrend: t, Bars: bars(t)})
	}
	for _, t := range flaky {
		d.Flakiest = append(d.Flakiest, trendRow{ScriptTrend: t})
	}
	s.render(w, r, "trends", view{Title: "Trends", Nav: "trends", Stream: "/events?types=run.finished", Data: d})
}

// bars draws a script's runs oldest to newest, heights by duration.
func bars(t store.ScriptTrend) []bar {
	var top int64 = 1
	for _, p := range t.Runs {
		top = max(top, p.DurationMs)
	}
	out := make([]bar, 0, len(t.Runs))
	n := len(t.Runs)
	for i := range t.Runs {
		p := t.Runs[n-1-i]
		h := max(2, 28*float64(p.DurationMs)/float64(top))
		out = append(out, bar{X: float64(i * 6), Y: 30 - h, H: h, Status: p.Status,
			Title: fmt.Sprintf("%s %s %s", p.StartedAt.Local().Format("2006-01-02 15:04"), p.Status, report.FormatDuration(time.Duration(p.DurationMs)*time.Millisecond))})
	}
	return out
}
