package store

import (
	"sort"
	"time"
)

// TrendFilter selects the history Trends summarises.
type TrendFilter struct {
	Script string // "" for every script
	// Window is how many of each script's last finished runs count
	// (0: DefaultTrendWindow).
	Window int
	Since  time.Time
}

// DefaultTrendWindow is how many recent runs a trend covers.
const DefaultTrendWindow = 20

// TrendPoint is one finished run of a trend.
type TrendPoint struct {
	ID         string    `json:"id"`
	StartedAt  time.Time `json:"started_at"`
	Device     string    `json:"device"`
	Status     Status    `json:"status"`
	DurationMs int64     `json:"duration_ms"`
}

// ScriptTrend is a script's recent history: its finished runs, newest
// first.
type ScriptTrend struct {
	Script string       `json:"script"`
	Runs   []TrendPoint `json:"runs"`
}

// Passed counts the passed runs.
func (t ScriptTrend) Passed() int {
	n := 0
	for _, p := range t.Runs {
		if p.Status == StatusPassed {
			n++
		}
	}
	return n
}

// verdicts are the runs that judged the script: an infrastructure error
// (a device that did not answer) says nothing of it, and would make a
// steady script look flaky.
func (t ScriptTrend) verdicts() []TrendPoint {
	out := make([]TrendPoint, 0, len(t.Runs))
	for _, p := range t.Runs {
		if p.Status != StatusError {
			out = append(out, p)
		}
	}
	return out
}

// PassRate is the share of passed runs among those that judged the script
// (-1 without any).
func (t ScriptTrend) PassRate() float64 {
	v := t.verdicts()
	if len(v) == 0 {
		return -1
	}
	return float64(t.Passed()) / float64(len(v))
}

// Flips counts the changes between passing and failing from one judging
// run to the next: how flaky the script is.
func (t ScriptTrend) Flips() int {
	v := t.verdicts()
	n := 0
	for i := 1; i < len(v); i++ {
		if (v[i].Status == StatusPassed) != (v[i-1].Status == StatusPassed) {
			n++
		}
	}
	return n
}

// Flakiness is Flips over the changes the runs could have made (0 to 1).
func (t ScriptTrend) Flakiness() float64 {
	v := t.verdicts()
	if len(v) < 2 {
		return 0
	}
	return float64(t.Flips()) / float64(len(v)-1)
}

// MedianMs is the median duration of the runs (0 without runs).
func (t ScriptTrend) MedianMs() int64 {
	d := make([]int64, len(t.Runs))
	for i, p := range t.Runs {
		d[i] = p.DurationMs
	}
	return MedianMs(d)
}

// MedianMs is the median of durations (0 when there are none).
func MedianMs(d []int64) int64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]int64(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
