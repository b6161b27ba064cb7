package cmd

import (
	"io"
	"os"

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

// System returns the process's streams.
func System() *IOStreams {
	return &IOStreams{
		Out: os.Stdout, Err: os.Stderr,
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
