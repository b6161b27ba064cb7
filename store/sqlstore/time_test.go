package sqlstore

import (
	"math/rand/v2"
	"testing"
	"time"
)

// parseTimeLayout reads what time.Parse reads in TimeLayout, and leaves
// everything else to it.
func TestParseTimeLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		want := time.Unix(rng.Int64N(1<<36), rng.Int64N(1e9)).UTC().Truncate(time.Microsecond)
		s := want.Format(TimeLayout)
		got, ok := parseTimeLayout(s)
		if !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("%s: %v %v, want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "2026-04-31T10:00:00.000000Z", "2026-13-01T10:00:00.000000Z", "2026-12-01T24:00:00.000000Z",
		"2026-12-01T10:00:00.00000xZ", "2026-12-01T10:00:00.000000+", "2026-12-01 10:00:00.000000Z", "2026-12-01T10:00:00Z"} {
		if _, ok := parseTimeLayout(s); ok {
			t.Errorf("%q read as a time", s)
		}
	}
}
