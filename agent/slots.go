package agent

import (
	"context"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/capture"
)

// slot is one device an agent serves.
type slot struct {
	cfg  capture.DeviceConfig
	info DeviceInfo
	busy bool
	down string // why it is down; "" when healthy
}

// slots hands an agent's devices to the jobs it fetched. A job may be
// fetched from any of the queues a device answers to, so more jobs than
// free devices can be in hand for a moment: a job waits briefly for a
// device (first come, first served) and otherwise goes back to its queue
// for another agent (see attemptWorker.Work).
type slots struct {
	mu      sync.Mutex
	list    []*slot
	waiters []*slotWaiter
}

type slotWaiter struct {
	want func(*slot) bool
	wake chan struct{}
}

// acquire outcomes.
const (
	acquired = iota
	allBusy  // a device would do, but none is free
	noDevice // no healthy device of this agent can run it
)

// acquire takes a free healthy device that want accepts, waiting up to
// wait for one to come free; jobs that wait get devices in the order they
// began to wait, before any that does not.
func (s *slots) acquire(ctx context.Context, want func(*slot) bool, wait time.Duration) (*slot, int) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	w := &slotWaiter{want: want, wake: make(chan struct{}, 1)}
	for {
		s.mu.Lock()
		fits := false
		for _, sl := range s.list {
			if sl.down != "" || !want(sl) {
				continue
			}
			fits = true
			if !sl.busy && s.first(w, sl) {
				sl.busy = true
				s.drop(w)
				s.mu.Unlock()
				return sl, acquired
			}
		}
		if !fits {
			s.drop(w)
			s.mu.Unlock()
			return nil, noDevice
		}
		if wait <= 0 {
			// Not waiting: such a job never holds a device back from one
			// that waits for it.
			s.mu.Unlock()
			return nil, allBusy
		}
		if !s.has(w) {
			s.waiters = append(s.waiters, w)
		}
		s.mu.Unlock()
		select {
		case <-w.wake:
		case <-timer.C:
			s.mu.Lock()
			s.drop(w)
			s.mu.Unlock()
			return nil, allBusy
		case <-ctx.Done():
			s.mu.Lock()
			s.drop(w)
			s.mu.Unlock()
			return nil, allBusy
		}
	}
}

// first tells whether w is the earliest waiter that wants sl (or waits
// for none), so that devices go to jobs in the order they came.
func (s *slots) first(w *slotWaiter, sl *slot) bool {
	for _, o := range s.waiters {
		if o == w {
			return true
		}
		if o.want(sl) {
			return false
		}
	}
	return true
}

func (s *slots) has(w *slotWaiter) bool {
	for _, o := range s.waiters {
		if o == w {
			return true
		}
	}
	return false
}

func (s *slots) drop(w *slotWaiter) {
	for i, o := range s.waiters {
		if o == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			return
		}
	}
}

// holdIdle takes a healthy device that is free and that no job waits for,
// for something else than a job (a check); release gives it back.
func (s *slots) holdIdle(sl *slot) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl.busy || sl.down != "" {
		return false
	}
	for _, w := range s.waiters {
		if w.want(sl) {
			return false
		}
	}
	sl.busy = true
	return true
}

// release frees a device and wakes the first waiter that wants it.
func (s *slots) release(sl *slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.busy = false
	s.wakeFor(sl)
}

func (s *slots) wakeFor(sl *slot) {
	for _, w := range s.waiters {
		if w.want(sl) {
			select {
			case w.wake <- struct{}{}:
			default:
			}
			return
		}
	}
}

// setDown takes a device out (reason) or, with "", brings it back.
func (s *slots) setDown(sl *slot, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.down = reason
	if reason == "" && !sl.busy {
		s.wakeFor(sl)
	}
}

// snapshot copies the devices' state.
func (s *slots) snapshot() []slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]slot, len(s.list))
	for i, sl := range s.list {
		out[i] = *sl
	}
	return out
}
