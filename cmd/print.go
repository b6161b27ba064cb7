package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/report"
	"github.com/vpt-dev/vpt/store"
)

// The helpers every command prints with: one JSON form, one colour per
// status, one way to show a duration and a path.

// printJSON prints v on stdout as the --json output of a command:
// indented, one document.
func printJSON(app *App, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(app.IO.Out, string(b))
	return nil
}

// statusColors are the ANSI colours of the statuses of runs, campaign
// entries and campaigns: green passed, red failed, yellow for what ended
// early or passed only on a retry, magenta for vpt's or the machine's
// trouble, cyan running, dim not run.
var statusColors = map[string]string{
	string(store.StatusPassed): "32", string(store.StatusFailed): "31", string(store.StatusTimeout): "33",
	string(store.StatusInterrupted): "33", string(store.StatusError): "35", string(store.StatusAbandoned): "35",
	string(store.StatusRunning): "36", string(store.StatusFlaky): "33", string(store.StatusNotRun): "2",
	// Campaigns' own (campaign.Status*).
	"completed": "32", "cancelled": "33",
}

// paintStatus is a status in its colour.
func paintStatus(color bool, s store.Status) string {
	return paint(color, statusColors[string(s)], string(s))
}

// paintVerdict is the status that ends a summary: upper case, bold, in its
// colour.
func paintVerdict(color bool, status string) string {
	return paint(color, "1;"+statusColors[status], strings.ToUpper(status))
}

// fmtMs renders milliseconds as people read them.
func fmtMs(ms int64) string { return report.FormatDuration(time.Duration(ms) * time.Millisecond) }

// relPath shows a path relative to the working directory when it is inside it.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// plain is text a script gave (its error, its summary, its metadata) as
// vpt prints it among its own lines: control characters are shown as
// escapes, so that a carriage return or an escape sequence cannot erase
// or recolour what vpt says ("FAILED" overwritten by a "PASSED").
func plain(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isControl: a C0 or C1 control character other than a tab, or DEL.
func isControl(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0
}
