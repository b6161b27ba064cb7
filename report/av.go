package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// spanView is a stretch of the run as the report shows it, with where it
// starts in the video.
type spanView struct {
	Kind      string
	Start     string // from the run's start
	Length    string
	VideoAtMs int64
}

func spanViews(in []store.AVInterval, videoStart int64) []spanView {
	var out []spanView
	for _, i := range in {
		out = append(out, newSpanView(i.Kind, i.Span, videoStart))
	}
	return out
}

func newSpanView(kind string, s store.Span, videoStart int64) spanView {
	return spanView{Kind: kind, Start: FormatDuration(time.Duration(s.StartMs) * time.Millisecond),
		Length: FormatDuration(time.Duration(s.EndMs-s.StartMs) * time.Millisecond), VideoAtMs: max(0, s.StartMs-videoStart)}
}

// avValues lists an analysis step's result, key by key: the scalars, and
// lists of intervals or words shortened (the intervals are shown apart).
func avValues(ev *store.AVEvidence) []kv {
	keys := make([]string, 0, len(ev.Result))
	for k := range ev.Result {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []kv
	for _, k := range keys {
		v := ev.Result[k]
		switch x := v.(type) {
		case nil:
			v = "—"
		case []any:
			if k == "words" || k == "black" || k == "frozen" || k == "silent" {
				v = fmt.Sprintf("%d", len(x))
			}
		}
		out = append(out, kv{k, formatValue(v)})
	}
	return out
}

// avView is the check of the recording as the report shows it.
type avView struct {
	*store.AVCheck
	Rows []avRow
	// Bars place each stretch on the window, in percent.
	Bars     []avBar
	Window   string
	Elapsed  string
	Checked  string
	Loudness []kv
}

type avRow struct {
	Kind    string
	Limit   string
	Spans   []spanView
	Longest string
	Over    bool
}

type avBar struct {
	Kind        string
	Left, Width float64
	Title       string
}

func newAVView(c *store.AVCheck, videoStart int64) *avView {
	v := &avView{AVCheck: c, Elapsed: FormatDuration(time.Duration(c.ElapsedMs) * time.Millisecond)}
	w := c.Window
	v.Window = FormatDuration(time.Duration(w.StartMs)*time.Millisecond) + " – " + FormatDuration(time.Duration(w.EndMs)*time.Millisecond)
	var checked []string
	if c.Video {
		checked = append(checked, "picture")
	}
	if c.Audio {
		checked = append(checked, "sound")
	}
	v.Checked = strings.Join(checked, " and ")
	add := func(on bool, kind string, spans []store.Span, limit int64) {
		if !on {
			return
		}
		row := avRow{Kind: kind, Limit: "not checked"}
		if limit >= 0 {
			row.Limit = "at most " + FormatDuration(time.Duration(limit)*time.Millisecond)
		}
		var longest int64
		for _, s := range spans {
			row.Spans = append(row.Spans, newSpanView(kind, s, videoStart))
			longest = max(longest, s.EndMs-s.StartMs)
			if length := w.EndMs - w.StartMs; length > 0 {
				left := float64(s.StartMs-w.StartMs) * 100 / float64(length)
				width := float64(s.EndMs-s.StartMs) * 100 / float64(length)
				v.Bars = append(v.Bars, avBar{Kind: kind, Left: clampPct(left), Width: clampPct(width), Title: kind + " " + row.Spans[len(row.Spans)-1].Length})
			}
		}
		if len(spans) > 0 {
			row.Longest = FormatDuration(time.Duration(longest) * time.Millisecond)
			row.Over = limit >= 0 && longest > limit
		}
		v.Rows = append(v.Rows, row)
	}
	add(c.Video, "black", c.Black, c.Limits.MaxBlackMs)
	add(c.Video, "frozen", c.Frozen, c.Limits.MaxFreezeMs)
	add(c.Audio, "silent", c.Silent, c.Limits.MaxSilenceMs)
	if l := c.Loudness; l != nil {
		v.Loudness = []kv{{"integrated", fmt.Sprintf("%.1f LUFS", l.Integrated)}, {"range", fmt.Sprintf("%.1f LU", l.Range)},
			{"peak", fmt.Sprintf("%.1f dBFS", l.Peak)}, {"loudest momentary", fmt.Sprintf("%.1f LUFS", l.MaxMomentary)},
			{"loudest short-term", fmt.Sprintf("%.1f LUFS", l.MaxShortTerm)}}
	}
	return v
}

func clampPct(f float64) float64 {
	f = max(0, min(100, f))
	return float64(int(f*10)) / 10
}
