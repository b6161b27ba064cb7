package cmd

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/term"
)

// IOStreams are the streams of the process: stdout for results, stderr for
// progress and logs. Colour and progress bars need a terminal, no CI, and
// no NO_COLOR.
type IOStreams struct {
	Out, Err       io.Writer
	OutTTY, ErrTTY bool
	CI             bool
	NoColor        bool
}

// System returns the process's streams. Stdout remembers its first write
// error (see OutErr).
func System() *IOStreams {
	return &IOStreams{
		Out: &checkedWriter{w: os.Stdout}, Err: os.Stderr,
		OutTTY:  term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY:  term.IsTerminal(int(os.Stderr.Fd())),
		CI:      os.Getenv("CI") != "",
		NoColor: os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb",
	}
}

// ColorOut: colour on stdout.
func (s *IOStreams) ColorOut() bool { return s.OutTTY && !s.CI && !s.NoColor }

// Interactive: progress bars and live redraws on stderr.
func (s *IOStreams) Interactive() bool { return s.ErrTTY && !s.CI }

// paint wraps text in an ANSI colour when on.
func paint(on bool, code, text string) string {
	if !on {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// OutErr is the first error writing stdout met, other than a closed pipe
// (vpt run s.py | head: the run goes on, and says nothing of it): a full
// disk under vpt ... --json > out.json is no success.
func (s *IOStreams) OutErr() error {
	if c, ok := s.Out.(*checkedWriter); ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.err
	}
	return nil
}

// checkedWriter is a writer that keeps its first error.
type checkedWriter struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil && !errors.Is(err, syscall.EPIPE) {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
}
