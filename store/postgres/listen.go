package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventChannel is the NOTIFY channel of event appends.
const eventChannel = "vpt_events"

// listener LISTENs on its own connection, started by the first waiter
// (most vpt commands never wait for events), and wakes every waiter on
// each notification. A lost connection wakes them too (they look for
// themselves) and is made again with backoff.
type listener struct {
	url    string
	mu     sync.Mutex
	ch     chan struct{}
	start  sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newListener(url string) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	return &listener{url: url, ch: make(chan struct{}), ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// Changed implements sqlstore.Waker.
func (l *listener) Changed() <-chan struct{} {
	l.start.Do(func() { go l.run() })
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch
}

func (l *listener) wake() {
	l.mu.Lock()
	close(l.ch)
	l.ch = make(chan struct{})
	l.mu.Unlock()
}

// Close implements sqlstore.Waker.
func (l *listener) Close() error {
	l.cancel()
	started := true
	l.start.Do(func() { started = false })
	if started {
		<-l.done
	}
	return nil
}

func (l *listener) run() {
	defer close(l.done)
	wait := 100 * time.Millisecond
	for l.ctx.Err() == nil {
		if l.listen() {
			wait = 100 * time.Millisecond
		}
		l.wake()
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen serves one connection until it fails; it reports whether it
// got as far as listening.
func (l *listener) listen() bool {
	cctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, l.url)
	cancel()
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(l.ctx, "LISTEN "+eventChannel); err != nil {
		return false
	}
	// Events appended before LISTEN took effect are found by the
	// waiters' own look after this wake.
	l.wake()
	for {
		if _, err := conn.WaitForNotification(l.ctx); err != nil {
			return true
		}
		l.wake()
	}
}
