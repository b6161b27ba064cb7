package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

func runHistory(t *testing.T, newDB Opener) {
	t.Run("Pages", func(t *testing.T) { testPages(t, newDB(t)()) })
	t.Run("Durations", func(t *testing.T) { testDurations(t, newDB(t)()) })
	t.Run("Trends", func(t *testing.T) { testTrends(t, newDB(t)()) })
}

// Keyset pages, newest first, cover every row once, rows of the same
// start time included; the host filter.
func testPages(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	var want []string
	for i := 0; i < 7; i++ {
		// Pairs share a start time: the id breaks the tie.
		r := newResult("goto", base.Add(time.Duration(i/2)*time.Minute))
		if i == 3 {
			r.HostName = "host-b"
		}
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListResults(ctx, store.ResultFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		want = append(want, r.ID)
	}
	var got []string
	var after *store.Cursor
	for page := 0; page < 10; page++ {
		rows, err := s.ListResults(ctx, store.ResultFilter{After: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			got = append(got, r.ID)
		}
		last := rows[len(rows)-1]
		after = &store.Cursor{StartedAt: last.StartedAt, ID: last.ID}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages\n got %v\nwant %v", got, want)
	}
	if b, _ := s.ListResults(ctx, store.ResultFilter{Host: "host-b"}); len(b) != 1 || b[0].HostName != "host-b" {
		t.Fatalf("host filter: %+v", b)
	}
}

func testDurations(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	add := func(script, device string, at int, st store.Status, d time.Duration) {
		r := newResult(script, base.Add(time.Duration(at)*time.Minute))
		r.DeviceID = device
		finish(r, st, d)
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	add("zap", "device1", 0, store.StatusPassed, 10*time.Second)
	add("zap", "device1", 1, store.StatusFailed, 12*time.Second)
	add("zap", "device2", 2, store.StatusPassed, 30*time.Second)
	add("zap", "device1", 3, store.StatusInterrupted, time.Second) // not a duration to predict from
	add("zap", "device1", 4, store.StatusPassed, 14*time.Second)
	got, err := s.RecentDurations(ctx, []string{"zap", "none"}, "device1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got["zap"]) != "[14000 12000]" || len(got["none"]) != 0 {
		t.Fatalf("device1: %v", got)
	}
	got, _ = s.RecentDurations(ctx, []string{"zap"}, "", 10)
	if fmt.Sprint(got["zap"]) != "[14000 30000 12000 10000]" {
		t.Fatalf("any device: %v", got)
	}
	if m := store.MedianMs(got["zap"]); m != 13000 {
		t.Fatalf("median %d", m)
	}
}

func testTrends(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	for i, st := range []store.Status{store.StatusPassed, store.StatusFailed, store.StatusPassed, store.StatusFailed, store.StatusPassed} {
		r := newResult("wobbly", base.Add(time.Duration(i)*time.Minute))
		finish(r, st, time.Duration(i+1)*time.Second)
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// An infrastructure error between two passes does not make steady
	// flaky, nor lower its pass rate: it is the device's.
	for i, st := range []store.Status{store.StatusPassed, store.StatusError, store.StatusPassed} {
		r := newResult("steady", base.Add(time.Duration(i)*time.Minute))
		finish(r, st, time.Second)
		if err := s.CreateResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateResult(ctx, newResult("running", base)); err != nil {
		t.Fatal(err)
	}
	trends, err := s.Trends(ctx, store.TrendFilter{Window: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(trends) != 2 || trends[0].Script != "steady" || trends[1].Script != "wobbly" {
		t.Fatalf("trends: %+v", trends)
	}
	w := trends[1]
	if len(w.Runs) != 4 || w.Runs[0].DurationMs != 5000 || w.Flips() != 3 || w.PassRate() != 0.5 || w.Flakiness() != 1 || w.MedianMs() != 3500 {
		t.Fatalf("wobbly: %+v flips %d rate %v median %d", w.Runs, w.Flips(), w.PassRate(), w.MedianMs())
	}
	if s := trends[0]; s.PassRate() != 1 || s.Flips() != 0 {
		t.Fatalf("steady: %+v", s)
	}
	one, _ := s.Trends(ctx, store.TrendFilter{Script: "steady", Since: base.Add(time.Minute)})
	if len(one) != 1 || len(one[0].Runs) != 2 {
		t.Fatalf("one script since: %+v", one)
	}
}
