package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

func runEvents(t *testing.T, newDB Opener) {
	t.Run("EventsAppendRead", func(t *testing.T) { testEventsAppendRead(t, newDB(t)()) })
	t.Run("EventsWithRows", func(t *testing.T) { testEventsWithRows(t, newDB(t)()) })
	t.Run("EventsPrune", func(t *testing.T) { testEventsPrune(t, newDB(t)()) })
	t.Run("EventsWait", func(t *testing.T) { testEventsWait(t, newDB(t)) })
	t.Run("EventsCommitOrder", func(t *testing.T) { testEventsCommitOrder(t, newDB(t)) })
}

func seqs(evs []store.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func testEventsAppendRead(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	if last, err := s.LastEventSeq(ctx); err != nil || last != 0 {
		t.Fatalf("empty log: last %d, %v", last, err)
	}
	run := store.NewEvent(store.EventRunStep, store.RunStep{Number: 1, Name: "home → live", Status: store.StatusPassed})
	run.RunID, run.CampaignID = "r1", "campaign_exec_1_x"
	agent := store.NewEvent(store.EventAgentUp, store.AgentData{Devices: []string{"device1"}})
	agent.Agent, agent.HostName = "lab-1", "lab-1"
	plain := store.Event{Type: store.EventDeviceIdle, DeviceID: "device1", At: base}
	if err := s.AppendEvents(ctx, run, agent); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, store.Event{}); err == nil {
		t.Fatal("an event without a type was appended")
	}
	all, err := s.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || !(all[0].Seq < all[1].Seq && all[1].Seq < all[2].Seq) {
		t.Fatalf("events %v, want 3 in increasing order", seqs(all))
	}
	var step store.RunStep
	if err := all[0].Decode(&step); err != nil || step.Name != "home → live" || all[0].RunID != "r1" || all[0].Type != store.EventRunStep {
		t.Fatalf("round trip: %+v %+v %v", all[0], step, err)
	}
	if all[1].Agent != "lab-1" || all[1].HostName != "lab-1" || !all[2].At.Equal(base) || all[2].DeviceID != "device1" || len(all[2].Data) != 0 {
		t.Fatalf("fields: %+v %+v", all[1], all[2])
	}
	if last, _ := s.LastEventSeq(ctx); last != all[2].Seq {
		t.Fatalf("last %d, want %d", last, all[2].Seq)
	}
	cases := []struct {
		name string
		f    store.EventFilter
		want []int64
	}{
		{"after", store.EventFilter{After: all[0].Seq}, seqs(all[1:])},
		{"campaign", store.EventFilter{Campaign: "campaign_exec_1_x"}, seqs(all[:1])},
		{"run", store.EventFilter{Run: "r1"}, seqs(all[:1])},
		{"types", store.EventFilter{Types: []store.EventType{store.EventAgentUp, store.EventDeviceIdle}}, seqs(all[1:])},
		{"limit", store.EventFilter{Limit: 2}, seqs(all[:2])},
		{"before", store.EventFilter{Before: base.Add(time.Second)}, seqs(all[2:])},
	}
	for _, c := range cases {
		got, err := s.Events(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seqs(got)) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.name, seqs(got), c.want)
		}
	}
	// A batch larger than one statement takes.
	var many []store.Event
	for i := 0; i < 1200; i++ {
		many = append(many, store.Event{Type: store.EventAgentDown, Agent: fmt.Sprint(i)})
	}
	if err := s.AppendEvents(ctx, many...); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Events(ctx, store.EventFilter{Types: []store.EventType{store.EventAgentDown}, Limit: 2000}); len(got) != 1200 || got[1199].Agent != "1199" {
		t.Fatalf("a batch of 1200: %d events", len(got))
	}
}

// Events written with a row are there exactly when the row is.
func testEventsWithRows(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	ev := func(typ store.EventType, run string) store.Event {
		e := store.NewEvent(typ, nil)
		e.RunID = run
		return e
	}
	r := newResult("goto", base)
	if err := s.CreateResult(ctx, r, ev(store.EventRunStarted, r.ID), ev(store.EventDeviceBusy, r.ID)); err != nil {
		t.Fatal(err)
	}
	// The same id again: the insert fails, its event is not written.
	if err := s.CreateResult(ctx, r, ev(store.EventRunStarted, "duplicate")); err == nil {
		t.Fatal("duplicate id accepted")
	}
	finish(r, store.StatusPassed, time.Second)
	if err := s.UpdateResult(ctx, r, ev(store.EventRunFinished, r.ID)); err != nil {
		t.Fatal(err)
	}
	missing := newResult("x", base)
	if err := s.UpdateResult(ctx, missing, ev(store.EventRunFinished, "missing")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing row: %v", err)
	}
	// Finishing a finished row changes nothing and says nothing.
	if changed, err := s.FinishResult(ctx, r, ev(store.EventRunFinished, "twice")); err != nil || changed {
		t.Fatalf("finish twice: %v %v", changed, err)
	}
	c := &store.Campaign{ID: NewID(), ExecutionID: "campaign_exec_2_events", TeamID: "t", Name: "N", HostName: "h",
		DeviceName: "auto", Status: "running", StartedAt: base, ShardTotal: 1}
	ce := func(typ store.EventType) store.Event {
		e := store.NewEvent(typ, nil)
		e.CampaignID = c.ExecutionID
		return e
	}
	if _, err := s.CreateCampaign(ctx, c, ce(store.EventCampaignStarted)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCampaignEntry(ctx, store.CampaignEntry{CampaignID: c.ID, Index: 0, Attempt: 1, ScriptName: "goto",
		Status: store.StatusPassed, StartedAt: base}, ce(store.EventEntryFinished)); err != nil {
		t.Fatal(err)
	}
	c.Status = "completed"
	if changed, err := s.FinishCampaign(ctx, c, ce(store.EventCampaignFinished)); err != nil || !changed {
		t.Fatalf("finish campaign: %v %v", changed, err)
	}
	if changed, _ := s.FinishCampaign(ctx, c, ce("campaign.twice")); changed {
		t.Fatal("finished twice")
	}
	if err := s.UpdateCampaign(ctx, c, ce(store.EventCampaignFinished)); err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range all {
		got = append(got, string(e.Type)+":"+e.RunID)
	}
	want := []string{"run.started:" + r.ID, "device.busy:" + r.ID, "run.finished:" + r.ID, "campaign.started:",
		"campaign.entry_finished:", "campaign.finished:", "campaign.finished:"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
}

func testEventsPrune(t *testing.T, s store.Store) {
	defer s.Close()
	ctx := context.Background()
	old := store.Event{Type: store.EventDeviceIdle, At: base}
	recent := store.Event{Type: store.EventDeviceBusy, At: base.Add(48 * time.Hour)}
	if err := s.AppendEvents(ctx, old, old, recent); err != nil {
		t.Fatal(err)
	}
	before, _ := s.LastEventSeq(ctx)
	n, err := s.PruneEvents(ctx, base.Add(24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	left, _ := s.Events(ctx, store.EventFilter{})
	if len(left) != 1 || left[0].Type != store.EventDeviceBusy {
		t.Fatalf("left %+v", left)
	}
	// Every event gone: the next one still gets a new number.
	if _, err := s.PruneEvents(ctx, base.Add(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, recent); err != nil {
		t.Fatal(err)
	}
	if last, _ := s.LastEventSeq(ctx); last <= before {
		t.Fatalf("sequence number %d reused (was %d)", last, before)
	}
	// The old events of a run still in the store stay with it.
	r := newResult("kept", base)
	if err := s.CreateResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	kept := store.Event{Type: store.EventRunStep, At: base, RunID: r.ID}
	gone := store.Event{Type: store.EventRunStep, At: base, RunID: "pruned-run"}
	if err := s.AppendEvents(ctx, kept, gone); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneEvents(ctx, base.Add(100*time.Hour)); err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the recent event and the pruned run's", n, err)
	}
	if left, _ := s.Events(ctx, store.EventFilter{}); len(left) != 1 || left[0].RunID != r.ID {
		t.Fatalf("left %+v", left)
	}
}

// A waiter hears of an event another handle appends, and ends with its
// context.
func testEventsWait(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	reader, writer := open(), open()
	defer reader.Close()
	defer writer.Close()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := reader.WaitEvents(short, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait on an empty log: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		done <- reader.WaitEvents(wctx, 0)
	}()
	time.Sleep(100 * time.Millisecond)
	if err := writer.AppendEvents(ctx, store.NewEvent(store.EventAgentUp, nil)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	// An event already there: no wait at all.
	if err := reader.WaitEvents(ctx, 0); err != nil {
		t.Fatal(err)
	}
}

// Writers appending at once from several handles: a reader that resumes
// after the last sequence number it saw sees every event exactly once.
func testEventsCommitOrder(t *testing.T, open func() store.Store) {
	const writers, each = 4, 30
	ctx := context.Background()
	reader := open()
	defer reader.Close()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := open()
			defer s.Close()
			for i := 0; i < each; i++ {
				r := newResult(fmt.Sprintf("w%d", w), base)
				e := store.NewEvent(store.EventRunStarted, nil)
				e.RunID = r.ID
				if err := s.CreateResult(ctx, r, e); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	seen := map[string]bool{}
	var last int64
	read := func() {
		evs, err := reader.Events(ctx, store.EventFilter{After: last})
		if err != nil {
			t.Error(err)
			return
		}
		for _, e := range evs {
			if e.Seq <= last || seen[e.RunID] {
				t.Errorf("event %d (%s) out of order or twice after %d", e.Seq, e.RunID, last)
			}
			seen[e.RunID] = true
			last = e.Seq
		}
	}
	stop := make(chan struct{})
	go func() { wg.Wait(); close(stop) }()
	for polling := true; polling; {
		select {
		case <-stop:
			polling = false
		default:
			read()
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	read()
	if len(seen) != writers*each {
		t.Fatalf("the reader saw %d events, want %d", len(seen), writers*each)
	}
}
