package cmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vpt-dev/vpt/report/artifact"
)

// logHandler writes diagnostics for a person reading stderr: a warning is
// one line ("vpt: warning: …"), info and debug lines (-v, -vv) carry the
// time and their attributes as key=value. slog's own text format
// (time=… level=WARN msg=…) is for machines, and stderr is not one.
type logHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
	group string
}

func newLogHandler(w io.Writer, level slog.Level) *logHandler {
	return &logHandler{mu: &sync.Mutex{}, w: w, level: level}
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("vpt: error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("vpt: warning: ")
	case r.Level >= slog.LevelInfo:
		b.WriteString("vpt: ")
	default:
		b.WriteString("vpt: debug: ")
	}
	if h.level < slog.LevelWarn {
		// With -v the lines are a timeline: when each thing happened.
		b.WriteString(r.Time.Format("15:04:05.000") + " ")
	}
	b.WriteString(r.Message)
	write := func(a slog.Attr) {
		// An empty value (err="" of a call that worked) says nothing.
		if !a.Equal(slog.Attr{}) && !(a.Value.Kind() == slog.KindString && a.Value.String() == "") {
			fmt.Fprintf(&b, " %s=%s", a.Key, attrValue(a.Value))
		}
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(func(a slog.Attr) bool { write(h.grouped(a)); return true })
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// attrValue renders a value on one line, quoted when it has spaces.
func attrValue(v slog.Value) string {
	v = v.Resolve()
	var s string
	switch v.Kind() {
	case slog.KindDuration:
		d := v.Duration()
		if d > time.Millisecond {
			d = d.Round(100 * time.Microsecond)
		}
		s = d.String()
	case slog.KindTime:
		s = v.Time().Format(time.RFC3339Nano)
	default:
		s = v.String()
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// grouped names an attribute within the handler's group.
func (h *logHandler) grouped(a slog.Attr) slog.Attr {
	if h.group != "" {
		a.Key = h.group + "." + a.Key
	}
	return a
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		n.attrs = append(n.attrs, h.grouped(a))
	}
	return &n
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	n := *h
	if n.group != "" {
		name = n.group + "." + name
	}
	n.group = name
	return &n
}

// loggedArtifacts logs each request an upload makes (vpt -vv): the
// object, its size and the time it took. Keys and paths hold no secret;
// errors are logged as the artifact store words them (secrets masked).
type loggedArtifacts struct {
	artifact.Store
	log *slog.Logger
}

func (l loggedArtifacts) done(what, key string, start time.Time, err error, attrs ...any) {
	attrs = append([]any{"key", key, "took", time.Since(start)}, attrs...)
	if err != nil {
		attrs = append(attrs, "err", artifact.Reason(err))
	}
	l.log.Debug("upload "+what, attrs...)
}

func (l loggedArtifacts) PutFile(ctx context.Context, key, path string) error {
	start := time.Now()
	err := l.Store.PutFile(ctx, key, path)
	var size int64
	if st, serr := os.Stat(path); serr == nil {
		size = st.Size()
	}
	l.done("put", key, start, err, "bytes", size)
	return err
}

func (l loggedArtifacts) PutBytes(ctx context.Context, key string, data []byte) error {
	start := time.Now()
	err := l.Store.PutBytes(ctx, key, data)
	l.done("put", key, start, err, "bytes", len(data))
	return err
}

func (l loggedArtifacts) DeletePrefix(ctx context.Context, prefix string) error {
	start := time.Now()
	err := l.Store.DeletePrefix(ctx, prefix)
	l.done("delete", prefix+"/…", start, err)
	return err
}

func (l loggedArtifacts) AbortIncomplete(ctx context.Context, prefix string) (int, error) {
	start := time.Now()
	n, err := l.Store.AbortIncomplete(ctx, prefix)
	l.done("abort incomplete", prefix+"/…", start, err, "found", n)
	return n, err
}

func (l loggedArtifacts) Check(ctx context.Context) error {
	start := time.Now()
	err := l.Store.Check(ctx)
	l.done("check", "", start, err)
	return err
}
