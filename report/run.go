package report

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/store"
)

//go:embed templates/*.tmpl static/*
var assets embed.FS

// templates are parsed on first use (most commands never render HTML);
// Prepare parses them ahead.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"duration": FormatDuration,
		"ms":       func(ms int64) string { return FormatDuration(time.Duration(ms) * time.Millisecond) },
		"time":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"clock":    func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"pct":      func(v float64) string { return fmt.Sprintf("%.0f%%", v*100) },
		"lower":    strings.ToLower,
		"json":     toJS,
		"css":      func(name string) template.CSS { return template.CSS(mustAsset("static/" + name)) },
		"js":       func(name string) template.JS { return template.JS(mustAsset("static/" + name)) },
		"add":      func(a, b int) int { return a + b },
		"value":    formatValue,
	}).ParseFS(assets, "templates/*.tmpl"))
})

// Prepare readies, in the background and once per process, what the
// first run's report needs: the templates parsed, the run page executed
// once (html/template escapes a template at its first execution) and
// result.json's encoder built (encoding/json builds a type's encoder at
// its first use). About 2 ms of CPU that would otherwise come at the end
// of the run, or beside its start, where vpt's other work wants both
// cores: the executor calls it once the script has started, while vpt
// waits for it.
func Prepare() { prepare() }

var prepare = sync.OnceFunc(func() {
	go func() {
		res := &store.Result{ID: "00000000-0000-0000-0000-000000000000", Status: store.StatusPassed}
		_ = RenderRun(io.Discard, res, nil, false)
		_, _ = json.Marshal(NewRunFile(res))
	}()
})

func mustAsset(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// toJS encodes data for a <script> block. encoding/json escapes <, > and &
// as \u003c…, so no text can close the script element.
func toJS(v any) template.JS {
	b, err := json.Marshal(v)
	if err != nil {
		return template.JS("null")
	}
	return template.JS(b)
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	// Nested values as readable JSON: indented, and with <, > and & as
	// they are (the template escapes them for HTML once).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// FormatDuration renders a duration as people read it: 850ms, 3.2s, 4m05s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// runPage is what the run template shows.
type runPage struct {
	R          *store.Result
	Status     string
	Initial    *store.Screenshot
	Final      *store.Screenshot
	Steps      []stepView
	Shots      []store.Screenshot
	Log        []LogLine
	LogCut     bool
	LogBytes   int64
	Metadata   []kv
	Markers    []marker
	VideoPath  string
	VideoName  string
	LogHref    string // the link to output.log
	ResultHref string // the link to result.json
	DurationMs int64
	Generated  string
	URLs       []kv
	Campaign   string
	// CampaignHref links the campaign's report (from the run folder, in
	// the results folder's layout); "" for a run of no campaign.
	CampaignHref string
	// Attempts are the runs of the same campaign entry, this one
	// included, when it ran more than once.
	Attempts []AttemptLink
	// AV is the check of the recording (nil: none was asked for).
	AV *avView
}

type stepView struct {
	store.Step
	Shots []shotRef
	// VideoAtMs is where the step starts in the video.
	VideoAtMs int64
	// AVValues and AVSpans show an analysis step's evidence.
	AVValues []kv
	AVSpans  []spanView
}

type shotRef struct {
	Index int
	Shot  store.Screenshot
}

// AttemptLink is one run of a campaign entry, as another attempt's report
// links it.
type AttemptLink struct {
	Attempt int
	Status  store.Status
	// Href is its report, relative to the linking run's folder ("" when
	// it is not here).
	Href string
	// This: the attempt of the report itself.
	This bool
}

type kv struct {
	Key   string
	Value string
}

type marker struct {
	Number int     `json:"n"`
	Name   string  `json:"name"`
	At     float64 `json:"at"` // seconds into the video
	Status string  `json:"status"`
}

// RenderRun writes the HTML report of a run: one file, CSS and JS inline,
// media beside it by relative links. Every piece of text from the script
// is escaped by html/template.
func RenderRun(w io.Writer, res *store.Result, tail []byte, truncated bool) error {
	return RenderRunLinked(w, res, tail, truncated, nil)
}

// RenderRunLinked renders the report as RenderRun does, with every link to
// a file of the run folder (screenshots, video, references, output.log,
// result.json) turned into link(path relative to the folder): for a copy
// of the report that lives apart from its media, as in a private bucket
// where each object needs its own signed URL. A nil link keeps them
// relative.
func RenderRunLinked(w io.Writer, res *store.Result, tail []byte, truncated bool, link func(rel string) string) error {
	return renderRun(w, res, tail, truncated, link, nil)
}

func renderRun(w io.Writer, res *store.Result, tail []byte, truncated bool, link func(rel string) string, attempts []AttemptLink) error {
	// Links out of the run folder hold in the results folder's layout
	// only, not in a copy kept apart (an uploaded report).
	local := link == nil
	if link == nil {
		link = func(rel string) string { return rel }
	}
	p := runPage{R: res, Status: string(res.Status), LogBytes: res.Details.OutputBytes, LogCut: truncated,
		DurationMs: res.ExecutionTimeMs, Campaign: res.Details.CampaignID, LogHref: link(OutputLog), ResultHref: link(ResultJSON)}
	if id := res.Details.CampaignID; id != "" && local {
		// Run folders are <results>/runs/<id>, campaign folders
		// <results>/campaigns/<execution id>.
		p.CampaignHref = "../../campaigns/" + url.PathEscape(id) + "/" + CampaignHTML
	}
	p.Attempts = attempts
	p.Shots = slices.Clone(res.Details.Screenshots)
	for i, s := range p.Shots {
		s.Path, s.Thumbnail = link(s.Path), link(s.Thumbnail)
		p.Shots[i] = s
	}
	for i := range p.Shots {
		switch p.Shots[i].Label {
		case "initial":
			if p.Initial == nil {
				p.Initial = &p.Shots[i]
			}
		case "final":
			p.Final = &p.Shots[i]
		}
	}
	// The video starts a moment after the run (the device is opened and the
	// recorder started first): steps are placed on the video's own clock.
	var videoStart int64
	if v := res.Details.Video; v != nil {
		videoStart = v.OffsetMs
	}
	for _, st := range res.Details.Steps {
		v := stepView{Step: st, VideoAtMs: max(0, st.OffsetMs-videoStart)}
		v.Verifications = slices.Clone(st.Verifications)
		for i, vf := range v.Verifications {
			if vf.Reference != "" {
				vf.Reference = link(vf.Reference)
			}
			if vf.Source != "" {
				vf.Source = link(vf.Source)
			}
			v.Verifications[i] = vf
		}
		if st.AV != nil {
			v.AVValues, v.AVSpans = avValues(st.AV), spanViews(st.AV.Intervals, videoStart)
		}
		for _, i := range st.Screenshots {
			if i >= 0 && i < len(p.Shots) {
				v.Shots = append(v.Shots, shotRef{Index: i, Shot: p.Shots[i]})
			}
		}
		p.Steps = append(p.Steps, v)
		p.Markers = append(p.Markers, marker{Number: st.Number, Name: st.Name, At: float64(v.VideoAtMs) / 1000, Status: string(st.Status)})
	}
	if v := res.Details.Video; v != nil && v.Path != "" {
		p.VideoPath, p.VideoName = link(v.Path), v.Path
		if v.DurationMs > 0 {
			p.DurationMs = v.DurationMs
		}
	}
	if res.Details.AV != nil {
		p.AV = newAVView(res.Details.AV, videoStart)
	}
	p.Log = ParseLog(tail)
	keys := make([]string, 0, len(res.Metadata))
	for k := range res.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Metadata = append(p.Metadata, kv{k, formatValue(res.Metadata[k])})
	}
	for _, u := range []kv{{"report", res.HTMLReportR2URL}, {"log", res.LogsR2URL}, {"report (from the script)", res.Details.ReportURL},
		{"log (from the script)", res.Details.LogsURL}} {
		if u.Value != "" {
			p.URLs = append(p.URLs, u)
		}
	}
	return templates().ExecuteTemplate(w, "run.html.tmpl", p)
}

// WriteRunReport renders report.html into the run folder, atomically. The
// tail is the end of the output (read from output.log when nil).
func WriteRunReport(res *store.Result, tail []byte) error {
	b, err := renderRunFile(res, tail)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(res.RunDir, ReportHTML), b)
}

// WriteRunReportIfAbsent writes report.html only where none exists (a
// recovery never replaces a report with less).
func WriteRunReportIfAbsent(res *store.Result) error {
	b, err := renderRunFile(res, nil)
	if err != nil {
		return err
	}
	return WriteFileNew(filepath.Join(res.RunDir, ReportHTML), b)
}

// WriteRunAttempts writes report.html of a run of a campaign entry again,
// linking the entry's other attempts (attempts holds them all, this one
// marked This).
func WriteRunAttempts(res *store.Result, attempts []AttemptLink) error {
	tail, truncated := ReadTail(filepath.Join(res.RunDir, OutputLog), TailBytes)
	var buf bytes.Buffer
	if err := renderRun(&buf, res, tail, truncated, nil, attempts); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(res.RunDir, ReportHTML), buf.Bytes())
}

func renderRunFile(res *store.Result, tail []byte) ([]byte, error) {
	truncated := false
	if tail == nil {
		tail, truncated = ReadTail(filepath.Join(res.RunDir, OutputLog), TailBytes)
	} else {
		truncated = int64(len(tail)) < res.Details.OutputBytes
	}
	var buf bytes.Buffer
	if err := RenderRun(&buf, res, tail, truncated); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TailBytes is how much of the end of a script's output a report and JUnit
// show inline (the executor keeps as much in memory as the run goes); the
// whole output is a link away, in output.log.
const TailBytes = 64 * 1024

// ReadTail returns the last n bytes of a file, starting at a line, and
// whether it left anything out.
func ReadTail(path string, n int64) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false
	}
	off := st.Size() - n
	if off <= 0 {
		b, _ := io.ReadAll(f)
		return b, false
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, false
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
		b = b[i+1:]
	}
	return b, true
}
