package executor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/store"
)

// eventLinger is how long an event waits for the next row write to take
// it into its transaction before the outbox appends it on its own: the
// events of a run's start and end ride with its row writes and cost no
// transaction of their own, and a live view still hears of a step within
// a few tens of milliseconds.
const eventLinger = 25 * time.Millisecond

// outbox holds a run's events until they reach the store, in order: a
// row write takes the waiting ones into its own transaction (rowWrite);
// a background flusher appends the others after eventLinger. The script
// API never waits for the store.
type outbox struct {
	st   RunStore
	base store.Event // run, campaign, host and device of every event
	log  *slog.Logger
	off  bool

	// wmu is held across every write to the store, so that the events of
	// one run are appended in the order they were emitted; mu guards only
	// the queue, so that emit never waits for the store.
	wmu     sync.Mutex
	mu      sync.Mutex
	pending []store.Event
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// maxPending bounds the events kept while the store does not answer.
const maxPending = 10000

func (r *Runner) newOutbox(runID string, p prepared, req Request) *outbox {
	o := &outbox{st: r.Store, log: r.log(), off: r.Settings.NoEvents,
		base: store.Event{RunID: runID, CampaignID: req.CampaignID, HostName: r.Settings.HostName, DeviceID: p.dev.ID},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if o.off {
		close(o.done)
		return o
	}
	go o.flush()
	return o
}

// event makes an event of the run.
func (o *outbox) event(t store.EventType, data any) store.Event {
	e := store.NewEvent(t, data)
	e.RunID, e.CampaignID, e.HostName, e.DeviceID = o.base.RunID, o.base.CampaignID, o.base.HostName, o.base.DeviceID
	return e
}

// emit queues an event; it never blocks on the store.
func (o *outbox) emit(t store.EventType, data any) {
	if o == nil || o.off {
		return
	}
	e := o.event(t, data)
	o.mu.Lock()
	o.pending = append(o.pending, e)
	if len(o.pending) > maxPending {
		o.pending = o.pending[len(o.pending)-maxPending:]
	}
	o.mu.Unlock()
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// rowWrite runs a row write with the waiting events and evs, of types
// with data, in its transaction.
func (o *outbox) rowWrite(write func(evs ...store.Event) error, evs ...store.Event) error {
	if o == nil || o.off {
		return write()
	}
	o.wmu.Lock()
	defer o.wmu.Unlock()
	waiting := o.take()
	err := write(append(append([]store.Event(nil), waiting...), evs...)...)
	if err != nil {
		// The row was not written: neither were its events. Those that
		// were waiting wait on; the row's own go with it.
		o.putBack(waiting)
	}
	return err
}

func (o *outbox) take() []store.Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	evs := o.pending
	o.pending = nil
	return evs
}

// putBack queues events that could not be written before those emitted
// since (wmu held: no other write took any).
func (o *outbox) putBack(evs []store.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = append(evs, o.pending...)
	if len(o.pending) > maxPending {
		o.pending = o.pending[len(o.pending)-maxPending:]
	}
}

// flush appends what waits, eventLinger after it was emitted, until close.
func (o *outbox) flush() {
	defer close(o.done)
	for {
		select {
		case <-o.stop:
			return
		case <-o.kick:
		}
		select {
		case <-o.stop:
			return
		case <-time.After(eventLinger):
		}
		o.wmu.Lock()
		if evs := o.take(); len(evs) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), persistBudget)
			if err := o.st.AppendEvents(ctx, evs...); err != nil {
				o.log.Warn("events", "err", err)
				o.putBack(evs)
			}
			cancel()
		}
		o.wmu.Unlock()
	}
}

// close stops the flusher; events still waiting are appended at once.
func (o *outbox) close() {
	if o == nil || o.off {
		return
	}
	select {
	case <-o.stop:
		return
	default:
	}
	close(o.stop)
	<-o.done
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if evs := o.take(); len(evs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), persistBudget)
		defer cancel()
		if err := o.st.AppendEvents(ctx, evs...); err != nil {
			o.log.Warn("events", "err", err)
		}
	}
}

func runData(p prepared, req Request, dir string) store.RunData {
	d := store.RunData{Script: req.Script.Name, Device: p.dev.ID, DeviceModel: p.dev.Model, Args: req.Args,
		Attempt: req.Attempt, RunDir: dir}
	if p.ui != nil {
		d.UserInterface = p.ui.Name
	}
	return d
}

// notRun is the run.finished of a run that never got its device.
func notRun(p prepared, req Request, err error) store.RunFinished {
	st := store.StatusError
	switch {
	case errors.Is(err, ErrDeadline):
		st = store.StatusNotRun
	case errors.Is(err, context.Canceled), errors.Is(err, ErrInterrupted):
		st = store.StatusInterrupted
	}
	return store.RunFinished{Script: req.Script.Name, Device: p.dev.ID, Status: st, Reason: err.Error()}
}

// finishedData is the data of a run's run.finished.
func finishedData(res *store.Result, recovered bool) store.RunFinished {
	return store.RunFinished{Script: res.ScriptName, Device: res.DeviceID, Status: res.Status, Reason: res.ErrorMsg,
		DurationMs: res.ExecutionTimeMs, Steps: len(res.Details.Steps), Recovered: recovered}
}

func stepData(st store.Step) store.RunStep {
	return store.RunStep{Number: st.Number, Name: st.Name, Kind: st.Kind, Status: st.Status, Message: st.Message,
		Error: st.Error, DurationMs: st.DurationMs}
}
