package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// recordingStore records the events each write carried; block holds
// AppendEvents until closed (a store stuck behind another writer's lock,
// which a test cannot make SQLite do on demand).
type recordingStore struct {
	mu     sync.Mutex
	writes [][]string
	block  chan struct{}
	fail   bool
}

func (s *recordingStore) record(evs []store.Event) {
	var names []string
	for _, e := range evs {
		names = append(names, string(e.Type))
	}
	s.mu.Lock()
	s.writes = append(s.writes, names)
	s.mu.Unlock()
}

func (s *recordingStore) CreateResult(_ context.Context, _ *store.Result, evs ...store.Event) error {
	if s.fail {
		return errors.New("store down")
	}
	s.record(evs)
	return nil
}

func (s *recordingStore) UpdateResult(_ context.Context, _ *store.Result, evs ...store.Event) error {
	s.record(evs)
	return nil
}

func (s *recordingStore) Heartbeat(context.Context, []string, time.Time) error { return nil }

func (s *recordingStore) AppendEvents(_ context.Context, evs ...store.Event) error {
	if s.block != nil {
		<-s.block
	}
	s.record(evs)
	return nil
}

func (s *recordingStore) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.writes)
}

func testOutbox(st RunStore) *outbox {
	r := &Runner{Store: st, Log: slog.New(slog.DiscardHandler)}
	return r.newOutbox("run", prepared{}, Request{})
}

// Waiting events ride the next row write, in order; later ones are
// appended on their own.
func TestOutboxOrder(t *testing.T) {
	st := &recordingStore{}
	o := testOutbox(st)
	o.emit(store.EventRunQueued, nil)
	if err := o.rowWrite(func(evs ...store.Event) error { return st.CreateResult(context.Background(), nil, evs...) },
		o.event(store.EventRunStarted, nil)); err != nil {
		t.Fatal(err)
	}
	o.emit(store.EventRunStep, nil)
	o.emit(store.EventRunScreenshot, nil)
	deadline := time.Now().Add(10 * time.Second)
	for st.all() == "[[run.queued run.started]]" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	o.emit(store.EventRunVerdict, nil)
	o.rowWrite(func(evs ...store.Event) error { return st.UpdateResult(context.Background(), nil, evs...) }, o.event(store.EventRunFinished, nil))
	o.close()
	want := "[[run.queued run.started] [run.step run.screenshot] [run.verdict run.finished]]"
	if got := st.all(); got != want {
		t.Fatalf("writes %s, want %s", got, want)
	}
}

// A row write that fails keeps the events that were waiting for it.
func TestOutboxFailedWrite(t *testing.T) {
	st := &recordingStore{fail: true}
	o := testOutbox(st)
	o.emit(store.EventRunQueued, nil)
	if err := o.rowWrite(func(evs ...store.Event) error { return st.CreateResult(context.Background(), nil, evs...) },
		o.event(store.EventRunStarted, nil)); err == nil {
		t.Fatal("no error")
	}
	o.close()
	if got := st.all(); got != "[[run.queued]]" {
		t.Fatalf("writes %s", got)
	}
}

// The script API's steps never wait for a stuck store.
func TestOutboxEmitDoesNotWait(t *testing.T) {
	st := &recordingStore{block: make(chan struct{})}
	o := testOutbox(st)
	o.emit(store.EventRunStep, nil)
	time.Sleep(3 * eventLinger) // the flusher is now stuck in AppendEvents
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100; i++ {
			o.emit(store.EventRunStep, nil)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("emit waited for the store")
	}
	close(st.block)
	o.close()
}
