package executor

import (
	"testing"
	"time"

	"github.com/vpt-dev/vpt/capture/avcheck"
	"github.com/vpt-dev/vpt/store"
)

// The recording starts after the run: what the check reports, its
// verdict's sentences included, is on the run's clock.
func TestRecordingCheckOnTheRunsClock(t *testing.T) {
	rep := avcheck.Report{Video: true, Audio: true, Window: avcheck.Interval{Start: time.Second, End: 9 * time.Second},
		Frozen:   []avcheck.Interval{{Start: 2 * time.Second, End: 5 * time.Second}},
		Silent:   []avcheck.Interval{{Start: 6 * time.Second, End: 6500 * time.Millisecond}},
		Loudness: &avcheck.Loudness{Integrated: -23, ShortTerm: []avcheck.Level{{At: 3 * time.Second, LUFS: -23}}}}
	moved := shift(rep, 250*time.Millisecond)
	c := &store.AVCheck{}
	fillAVCheck(c, moved, moved.Judge(avcheck.Limits{MaxBlack: -1, MaxFreeze: time.Second, MaxSilence: -1}))
	if c.Window != (store.Span{StartMs: 1250, EndMs: 9250}) || len(c.Black) != 0 || c.Black == nil ||
		c.Frozen[0] != (store.Span{StartMs: 2250, EndMs: 5250}) || c.Silent[0] != (store.Span{StartMs: 6250, EndMs: 6750}) ||
		c.Loudness.ShortTerm[0].AtMs != 3250 || rep.Frozen[0].Start != 2*time.Second {
		t.Fatalf("check %+v", c)
	}
	if c.Passed || len(c.Problems) != 1 || c.Problems[0] != "the picture was frozen for 3s from 2.25s (at most 1s allowed)" {
		t.Fatalf("verdict %v %q", c.Passed, c.Problems)
	}
	if l := limitsMs(avcheck.Limits{MaxBlack: 2 * time.Second, MaxFreeze: -time.Second}); l != (store.AVLimits{MaxBlackMs: 2000, MaxFreezeMs: -1}) {
		t.Fatalf("limits %+v", l)
	}
}
