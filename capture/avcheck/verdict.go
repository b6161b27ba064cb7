package avcheck

import (
	"fmt"
	"time"
)

// Limits are the longest black, frozen and silent stretches a run may
// have. A limit of 0 allows none (of those the detectors find, which are
// at least their minimum long); a negative limit is not checked.
type Limits struct {
	MaxBlack   time.Duration `json:"max_black"`
	MaxFreeze  time.Duration `json:"max_freeze"`
	MaxSilence time.Duration `json:"max_silence"`
}

// DefaultLimits: a zap's black gap passes, a picture black for more than
// 2 s or frozen for more than 10 s fails, as does sound silent for more
// than 5 s.
var DefaultLimits = Limits{MaxBlack: 2 * time.Second, MaxFreeze: 10 * time.Second, MaxSilence: 5 * time.Second}

// Verdict is a report judged against limits.
type Verdict struct {
	Passed bool   `json:"passed"`
	Limits Limits `json:"limits"`
	// Problems says what failed, one sentence each, longest first per kind.
	Problems []string `json:"problems,omitempty"`
}

// Judge checks the longest stretch of each kind the report checked.
func (r Report) Judge(l Limits) Verdict {
	v := Verdict{Passed: true, Limits: l}
	check := func(on bool, what string, s []Interval, limit time.Duration) {
		if !on || limit < 0 {
			return
		}
		var worst *Interval
		for i := range s {
			if s[i].Duration() > limit && (worst == nil || s[i].Duration() > worst.Duration()) {
				worst = &s[i]
			}
		}
		if worst != nil {
			v.Passed = false
			v.Problems = append(v.Problems, fmt.Sprintf("the %s for %s (at most %s allowed)", what, worst, limit))
		}
	}
	check(r.Video, "picture was black", r.Black, l.MaxBlack)
	check(r.Video, "picture was frozen", r.Frozen, l.MaxFreeze)
	check(r.Audio, "sound was silent", r.Silent, l.MaxSilence)
	return v
}
