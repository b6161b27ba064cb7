package campaign

import (
	"sort"
	"strconv"

	"github.com/vpt-dev/vpt/store"
)

// BalanceHistory is the --balance mode that splits shards by the stored
// durations of their scripts.
const BalanceHistory = "history"

// shardPlanKey is where a campaign row keeps a balanced plan's
// assignment (Extra).
const shardPlanKey = "shard_plan"

// defaultEstimateMs is the duration assumed of a script with no history
// when no script has any.
const defaultEstimateMs = 60_000

// balance assigns entries to shards 1..n, largest expected duration first,
// each onto the shard with the least so far (the longest-processing-time
// rule): the shards end within one script of each other. A script without
// history counts as the median of those with, so that new scripts spread.
// Ties go by file order and the lowest shard, so every CI job computes the
// same split from the same history.
func balance(entries []PlannedEntry, n int, durations map[string]int64) map[int]int {
	var known []int64
	for _, d := range durations {
		if d > 0 {
			known = append(known, d)
		}
	}
	fallback := store.MedianMs(known)
	if fallback == 0 {
		fallback = defaultEstimateMs
	}
	est := func(e PlannedEntry) int64 {
		if d := durations[e.Script.Name]; d > 0 {
			return d
		}
		return fallback
	}
	order := append([]PlannedEntry(nil), entries...)
	sort.SliceStable(order, func(i, j int) bool { return est(order[i]) > est(order[j]) })
	load := make([]int64, n)
	out := map[int]int{}
	for _, e := range order {
		best := 0
		for s := 1; s < n; s++ {
			if load[s] < load[best] {
				best = s
			}
		}
		load[best] += est(e)
		out[e.Index] = best + 1
	}
	return out
}

// shardEntries are the entries of one shard (1-based; 0 or a plan without
// shards: all).
func (p *Plan) shardEntries(shard int) []PlannedEntry {
	n := p.Options.Shards
	var out []PlannedEntry
	for _, e := range p.all {
		switch {
		case n <= 1:
		case p.Assignment != nil:
			if p.Assignment[e.Index] != shard {
				continue
			}
		case e.Index%n != shard-1:
			continue
		}
		out = append(out, e)
	}
	return out
}

// adopt follows the assignment the first shard of the execution recorded
// (decoded from JSON): history may have changed since it planned, and
// every shard must split the same way, or entries would run twice or
// never.
func (p *Plan) adopt(recorded any, shard int) {
	m, ok := recorded.(map[string]any)
	if !ok || len(m) == 0 {
		return
	}
	a := map[int]int{}
	for k, v := range m {
		i, err := strconv.Atoi(k)
		f, isNum := v.(float64)
		if err != nil || !isNum {
			return
		}
		a[i] = int(f)
	}
	p.Assignment = a
	p.Entries = p.shardEntries(shard)
}
