package campaign

import (
	"fmt"
	"testing"

	"github.com/vpt-dev/vpt/executor"
)

func entriesOf(names ...string) []PlannedEntry {
	var out []PlannedEntry
	for i, n := range names {
		out = append(out, PlannedEntry{Index: i, Script: executor.Script{Name: n}})
	}
	return out
}

func loads(a map[int]int, entries []PlannedEntry, d map[string]int64, n int) []int64 {
	l := make([]int64, n)
	for _, e := range entries {
		l[a[e.Index]-1] += d[e.Script.Name]
	}
	return l
}

func TestBalanceLargestFirst(t *testing.T) {
	d := map[string]int64{"a": 90, "b": 60, "c": 50, "d": 40, "e": 30, "f": 30}
	entries := entriesOf("f", "e", "d", "c", "b", "a")
	a := balance(entries, 2, d)
	// LPT: a(90)→1, b(60)→2, c(50)→2, d(40)→1, e(30)→1, f(30)→2: 160 and 140.
	if got := loads(a, entries, d, 2); fmt.Sprint(got) != "[160 140]" {
		t.Fatalf("loads %v (%v)", got, a)
	}
	// Round robin by index would have given f+d+b = 130 and e+c+a = 170.
	if again := balance(entries, 2, d); fmt.Sprint(again) != fmt.Sprint(a) {
		t.Fatal("the same history split differently")
	}
	// Scripts without history count as the median of those with.
	e2 := entriesOf("a", "new1", "new2", "new3")
	a2 := balance(e2, 2, map[string]int64{"a": 100})
	if a2[0] == a2[1] || a2[1] == a2[2] && a2[2] == a2[3] {
		t.Fatalf("unknown scripts not spread: %v", a2)
	}
	// No history at all: every shard gets its share.
	a3 := balance(entriesOf("x", "y", "z", "w"), 2, nil)
	count := map[int]int{}
	for _, s := range a3 {
		count[s]++
	}
	if count[1] != 2 || count[2] != 2 {
		t.Fatalf("without history: %v", a3)
	}
}

// Every entry lands on exactly one shard; a joining shard follows the
// recorded split.
func TestBalancedShards(t *testing.T) {
	env := testEnv(t)
	f := mustLoad(t, `campaign_id: bal
name: Balanced
script_configurations:
  - {script_name: goto, parameters: {node: live}}
  - {script_name: zap}
  - {script_name: validation}
  - {script_name: hello}
  - {script_name: device_get_info}
`)
	d := map[string]int64{"zap": 60000, "validation": 30000, "goto": 5000, "hello": 1000, "device_get_info": 25000}
	seen := map[int]int{}
	var first *Plan
	for shard := 1; shard <= 2; shard++ {
		plan, err := Prepare(f, env, Options{Retries: -1, Shard: shard, Shards: 2, Balance: BalanceHistory, Durations: d})
		if err != nil {
			t.Fatal(err)
		}
		if shard == 1 {
			first = plan
		}
		for _, e := range plan.Entries {
			seen[e.Index]++
		}
	}
	if len(seen) != 5 {
		t.Fatalf("entries covered: %v", seen)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("entry %d on %d shards", i, n)
		}
	}
	// zap alone on one shard (60 s); the rest (61 s) on the other.
	if first.Assignment[1] == first.Assignment[2] || first.Assignment[1] == first.Assignment[4] {
		t.Fatalf("assignment %v", first.Assignment)
	}
	// Shard 2 planned with other durations adopts shard 1's record.
	late, err := Prepare(f, env, Options{Retries: -1, Shard: 2, Shards: 2, Balance: BalanceHistory, Durations: map[string]int64{"hello": 999999}})
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]any{}
	for i, s := range first.Assignment {
		recorded[fmt.Sprint(i)] = float64(s)
	}
	late.adopt(recorded, 2)
	for _, e := range late.Entries {
		if first.Assignment[e.Index] != 2 {
			t.Fatalf("entry %d of shard %d in shard 2 after adopting", e.Index, first.Assignment[e.Index])
		}
	}
}

func mustLoad(t *testing.T, text string) *File {
	t.Helper()
	f, err := Parse("c.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
