package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/executor"
	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// Stream settings: what a browser is told about reconnecting, how often a
// quiet stream says it is alive, how much a client may fall behind before
// it is dropped (it reconnects and replays from the store), and how long
// one write to it may take.
const (
	retryMs       = 2000
	keepAlive     = 15 * time.Second
	clientBuffer  = 4096
	writeDeadline = 10 * time.Second
	// maxReplay bounds the events replayed after a reconnect; a client
	// that missed more is told to reload.
	maxReplay = 5000
	// tailBytes is the output a run page gets when it connects.
	tailBytes = 16 << 10
)

// hub follows the event log once and hands each event to every client.
// It never waits for a client: one whose buffer is full is dropped.
type hub struct {
	st  store.EventLog
	log *slog.Logger

	mu      sync.Mutex
	last    int64
	clients map[*client]struct{}
	ready   chan struct{}
}

// client is one stream's queue: it grows with what the client has not
// taken yet (a burst of a goto's steps), up to clientBuffer events.
type client struct {
	mu      sync.Mutex
	queue   []store.Event
	wake    chan struct{}
	dropped chan struct{}
}

// push queues e; it reports false when the queue is full.
func (c *client) push(e store.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) >= clientBuffer {
		return false
	}
	c.queue = append(c.queue, e)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns what is queued.
func (c *client) take() []store.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

func newHub(st store.EventLog, log *slog.Logger) *hub {
	return &hub{st: st, log: log, clients: map[*client]struct{}{}, ready: make(chan struct{})}
}

func (h *hub) run(ctx context.Context) {
	last, err := h.st.LastEventSeq(ctx)
	if err != nil {
		h.log.Warn("event log", "err", err)
	}
	h.mu.Lock()
	h.last = last
	h.mu.Unlock()
	close(h.ready)
	for ctx.Err() == nil {
		if err := h.st.WaitEvents(ctx, last); err != nil {
			if ctx.Err() == nil {
				h.log.Warn("event log", "err", err)
				time.Sleep(time.Second)
			}
			continue
		}
		evs, err := h.st.Events(ctx, store.EventFilter{After: last})
		if err != nil {
			continue
		}
		h.mu.Lock()
		for _, e := range evs {
			for c := range h.clients {
				if !c.push(e) {
					h.drop(c)
				}
			}
			h.last = e.Seq
		}
		last = h.last
		h.mu.Unlock()
	}
}

// drop ends a client that fell behind (mu held).
func (h *hub) drop(c *client) {
	delete(h.clients, c)
	close(c.dropped)
}

// subscribe adds a client; events after the returned sequence number come
// on its channel, those up to it are in the store.
func (h *hub) subscribe(ctx context.Context) (*client, int64, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	c := &client{wake: make(chan struct{}, 1), dropped: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients[c] = struct{}{}
	return c, h.last, nil
}

func (h *hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
	}
}

// filter is what one page listens to.
type filter struct {
	run, campaign string
	prefixes      []string // event type prefixes ("run.", "device.")
}

func (f filter) match(e store.Event) bool {
	if f.run != "" && e.RunID != f.run {
		return false
	}
	if f.campaign != "" && e.CampaignID != f.campaign {
		return false
	}
	if len(f.prefixes) == 0 {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(string(e.Type), p) {
			return true
		}
	}
	return false
}

// stream is one client's connection.
type stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

// send writes one message; each write gets its own deadline, so a client
// that stops reading is dropped instead of holding the server.
func (s *stream) send(event, id, data string) {
	if s.err != nil {
		return
	}
	s.rc.SetWriteDeadline(time.Now().Add(writeDeadline))
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	if event != "" {
		b.WriteString("event: " + event + "\n")
	}
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	if _, s.err = io.WriteString(s.w, b.String()); s.err == nil {
		s.err = s.rc.Flush()
	}
}

func (s *stream) comment(text string) { s.raw(": " + text + "\n\n") }

func (s *stream) raw(text string) {
	if s.err != nil {
		return
	}
	s.rc.SetWriteDeadline(time.Now().Add(writeDeadline))
	if _, s.err = io.WriteString(s.w, text); s.err == nil {
		s.err = s.rc.Flush()
	}
}

func (s *stream) event(e store.Event) {
	b, _ := json.Marshal(e)
	s.send("vpt", strconv.FormatInt(e.Seq, 10), string(b))
}

// events is the page's stream: /events?run=ID | campaign=ID | types=run.,device.
// and frames=1 (live frames of running runs). Ids are sequence numbers: a
// reconnect with Last-Event-ID replays what it missed from the store.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := filter{run: q.Get("run"), campaign: q.Get("campaign")}
	if t := q.Get("types"); t != "" {
		f.prefixes = strings.Split(t, ",")
	}
	ctx := r.Context()
	c, upTo, err := s.hub.subscribe(ctx)
	if err != nil {
		return
	}
	defer s.hub.unsubscribe(c)
	rc := http.NewResponseController(w)
	// The stream outlives the server's write timeout; each write sets its own.
	rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, rc: rc}
	st.raw(fmt.Sprintf("retry: %d\n: vpt event stream\n\n", retryMs))
	sent := upTo
	if last := lastEventID(r); last >= 0 && last < upTo {
		sent = s.replay(ctx, st, f, last, upTo)
	}
	var tail *tailer
	if f.run != "" {
		tail = s.newTailer(f.run)
		tail.poll(st)
	}
	frames := newFrameWatch(s, q.Get("frames") != "", f.run)
	frames.poll(ctx, st)
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for n := 0; st.err == nil; {
		select {
		case <-ctx.Done():
			return
		case <-c.dropped:
			return // too slow: it reconnects and replays
		case <-c.wake:
			for _, e := range c.take() {
				if e.Seq > sent && f.match(e) {
					st.event(e)
				}
			}
		case <-ping.C:
			st.comment("keep-alive")
		case <-tick.C:
			if tail != nil {
				tail.poll(st)
			}
			if n++; n%4 == 0 {
				frames.poll(ctx, st)
			}
		}
	}
}

// lastEventID is the Last-Event-ID of a reconnect (or ?last=), -1 when none.
func lastEventID(r *http.Request) int64 {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// replay sends the events after last up to upTo from the store; it
// returns the last sequence number it covered.
func (s *Server) replay(ctx context.Context, st *stream, f filter, last, upTo int64) int64 {
	if upTo-last > maxReplay {
		st.send("reset", "", "too many events missed")
		return upTo
	}
	ef := store.EventFilter{After: last, Run: f.run, Campaign: f.campaign}
	for ef.After < upTo && st.err == nil {
		evs, err := s.cfg.Store.Events(ctx, ef)
		if err != nil || len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if e.Seq > upTo {
				return upTo
			}
			if f.match(e) {
				st.event(e)
			}
			ef.After = e.Seq
		}
	}
	return upTo
}

// tailer follows a run's output.log for its page.
type tailer struct {
	root *os.Root
	path string
	off  int64
}

func (s *Server) newTailer(runID string) *tailer {
	if !validID(runID) {
		return nil
	}
	return &tailer{root: s.root, path: path.Join("runs", runID, report.OutputLog), off: -1}
}

// poll sends the output written since the last poll (the last tailBytes
// of it on the first), as an "output" message.
func (t *tailer) poll(st *stream) {
	if t == nil {
		return
	}
	// Opened through the results folder's root each time: the run may
	// not have created it yet.
	f, err := t.root.Open(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	size := fi.Size()
	if t.off < 0 {
		t.off = max(0, size-tailBytes)
	}
	if size < t.off {
		t.off = 0
	}
	if size == t.off {
		return
	}
	n := min(size-t.off, 64<<10)
	buf := make([]byte, n)
	m, _ := f.ReadAt(buf, t.off)
	t.off += int64(m)
	b, _ := json.Marshal(string(buf[:m]))
	st.send("output", "", string(b))
}

// frameWatch tells a page when a running run's live frame changed.
type frameWatch struct {
	s    *Server
	all  bool
	run  string
	seen map[string]time.Time
}

func newFrameWatch(s *Server, all bool, run string) *frameWatch {
	return &frameWatch{s: s, all: all, run: run, seen: map[string]time.Time{}}
}

func (fw *frameWatch) poll(ctx context.Context, st *stream) {
	var runs []string
	switch {
	case fw.run != "":
		runs = []string{fw.run}
	case fw.all:
		rows, err := fw.s.cfg.Store.ListResults(ctx, store.ResultFilter{Statuses: []store.Status{store.StatusRunning}, Limit: 200})
		if err != nil {
			return
		}
		for _, r := range rows {
			runs = append(runs, r.ID)
		}
	}
	for _, id := range runs {
		if !validID(id) {
			continue
		}
		fi, err := fw.s.root.Stat(path.Join("runs", id, executor.LiveFrame))
		if err != nil || fi.ModTime().Equal(fw.seen[id]) {
			continue
		}
		fw.seen[id] = fi.ModTime()
		b, _ := json.Marshal(map[string]any{"run": id, "v": fi.ModTime().UnixMilli()})
		st.send("frame", "", string(b))
	}
}
