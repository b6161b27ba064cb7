package avcheck

import (
	"bufio"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Parse reads the log of the command Args built into a Report. window is
// the stretch analysed, as offsets in the recording: the detectors count
// from the window's start, and stretches still open at the end of the log
// end with the window. o must have its defaults.
func Parse(log string, o Options, window Interval) Report {
	r := Report{Window: window, Video: o.Video, Audio: o.Audio}
	var freezes []Interval
	var open struct{ freeze, silence *time.Duration }
	at := func(s string) time.Duration { return window.Start + parseSecs(s) }
	l := Loudness{Integrated: minLUFS, Peak: minLUFS, MaxMomentary: minLUFS, MaxShortTerm: minLUFS}
	summary := false
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "black_start:"):
			f := fields(line)
			r.Black = append(r.Black, Interval{at(f["black_start"]), at(f["black_end"])})
		case strings.Contains(line, "lavfi.freezedetect.freeze_start:"):
			t := at(after(line, "freeze_start:"))
			open.freeze = &t
		case strings.Contains(line, "lavfi.freezedetect.freeze_end:") && open.freeze != nil:
			freezes = append(freezes, Interval{*open.freeze, at(after(line, "freeze_end:"))})
			open.freeze = nil
		case strings.Contains(line, "silence_start:"):
			t := at(after(line, "silence_start:"))
			open.silence = &t
		case strings.Contains(line, "silence_end:") && open.silence != nil:
			end, _, _ := strings.Cut(after(line, "silence_end:"), "|")
			r.Silent = append(r.Silent, Interval{*open.silence, at(end)})
			open.silence = nil
		case strings.Contains(line, "Summary:"):
			// ffmpeg may print a summary of a first, unused filter graph:
			// the last one counts.
			summary = true
		case summary && strings.HasPrefix(strings.TrimSpace(line), "I:"):
			l.Integrated = level(after(line, "I:"))
		case summary && strings.HasPrefix(strings.TrimSpace(line), "LRA:"):
			if lra, err := strconv.ParseFloat(strings.Fields(after(line, "LRA:") + " 0")[0], 64); err == nil && !math.IsNaN(lra) && !math.IsInf(lra, 0) {
				l.Range = lra
			}
		case summary && strings.HasPrefix(strings.TrimSpace(line), "Peak:"):
			l.Peak = level(after(line, "Peak:"))
		case strings.Contains(line, " TARGET:") && strings.Contains(line, " M:"):
			t := at(after(line, "t:"))
			m, s := level(after(line, " M:")), level(after(line, " S:"))
			l.MaxMomentary = max(l.MaxMomentary, m)
			l.MaxShortTerm = max(l.MaxShortTerm, s)
			// One point a second (ebur128 logs every 100 ms).
			if n := len(l.ShortTerm); n == 0 || t-l.ShortTerm[n-1].At >= time.Second-50*time.Millisecond {
				l.ShortTerm = append(l.ShortTerm, Level{t, s})
			}
		}
	}
	if open.freeze != nil {
		freezes = append(freezes, Interval{*open.freeze, window.End})
	}
	if open.silence != nil {
		r.Silent = append(r.Silent, Interval{*open.silence, window.End})
	}
	if o.Audio {
		r.Loudness = &l
	}
	sortIntervals(r.Black)
	sortIntervals(r.Silent)
	sortIntervals(freezes)
	for _, f := range freezes {
		for _, part := range subtract(f, r.Black) {
			if part.Duration() >= o.MinFreeze {
				r.Frozen = append(r.Frozen, part)
			}
		}
	}
	if o.Video && window.Duration() > 0 {
		still := total(r.Black) + total(r.Frozen)
		r.MotionRatio = max(0, 1-float64(still)/float64(window.Duration()))
	}
	return r
}

// fields reads "key:value key:value" pairs.
func fields(line string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, ":"); ok && v != "" {
			out[k] = v
		}
	}
	return out
}

// after returns the text after key, trimmed.
func after(line, key string) string {
	_, v, _ := strings.Cut(line, key)
	return strings.TrimSpace(v)
}

func parseSecs(s string) time.Duration {
	f, _ := strconv.ParseFloat(strings.Fields(s + " ")[0], 64)
	return time.Duration(f * float64(time.Second))
}

// level reads "-23.1 LUFS", "-inf dBFS" or "-120.7" with the floor; a
// level ffmpeg could not measure ("nan", on a window of a few hundred ms)
// is the floor too, so a report is always JSON.
func level(s string) float64 {
	fs := strings.Fields(s)
	if len(fs) == 0 {
		return minLUFS
	}
	v, err := strconv.ParseFloat(fs[0], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < minLUFS {
		return minLUFS
	}
	return v
}

func sortIntervals(s []Interval) {
	sort.Slice(s, func(i, j int) bool { return s[i].Start < s[j].Start })
}

func total(s []Interval) time.Duration {
	var t time.Duration
	for _, i := range s {
		t += i.Duration()
	}
	return t
}

// subtract returns what of a the sorted cuts leave.
func subtract(a Interval, cuts []Interval) []Interval {
	var out []Interval
	cur := a.Start
	for _, c := range cuts {
		if c.End <= cur || c.Start >= a.End {
			continue
		}
		if c.Start > cur {
			out = append(out, Interval{cur, c.Start})
		}
		cur = max(cur, c.End)
	}
	if a.End > cur {
		out = append(out, Interval{cur, a.End})
	}
	return out
}
