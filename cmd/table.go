package cmd

import (
	"bytes"
	"io"
	"strings"

	"github.com/rivo/uniseg"
)

// table aligns tab-separated columns as text/tabwriter does, measuring
// each cell by what a terminal shows: colour codes take no room and a wide
// character takes two. (tabwriter counts the bytes of an escape sequence,
// so one coloured cell shifts every column after it.) Write lines with
// tab-terminated cells, then Flush; text after a line's last tab is not
// padded.
type table struct {
	w   io.Writer
	buf bytes.Buffer
}

// tablePadding is the room between two columns.
const tablePadding = 2

func newTable(w io.Writer) *table { return &table{w: w} }

func (t *table) Write(p []byte) (int, error) { return t.buf.Write(p) }

// Flush writes the aligned table.
func (t *table) Flush() error {
	text := strings.TrimSuffix(t.buf.String(), "\n")
	t.buf.Reset()
	if text == "" {
		return nil
	}
	var rows [][]string
	var widths []int
	for _, line := range strings.Split(text, "\n") {
		cells := strings.Split(line, "\t")
		rows = append(rows, cells)
		for i, c := range cells[:len(cells)-1] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], visibleWidth(c))
		}
	}
	var out strings.Builder
	for _, cells := range rows {
		for i, c := range cells[:len(cells)-1] {
			out.WriteString(c)
			out.WriteString(strings.Repeat(" ", widths[i]-visibleWidth(c)+tablePadding))
		}
		out.WriteString(cells[len(cells)-1])
		out.WriteByte('\n')
	}
	_, err := io.WriteString(t.w, out.String())
	return err
}

// visibleWidth is how many terminal columns s takes.
func visibleWidth(s string) int { return uniseg.StringWidth(stripSGR(s)) }

// stripSGR drops the CSI sequences (colours) paint writes: ESC [, then
// parameters, then one final byte.
func stripSGR(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			i += 2
			for i < len(s) && (s[i] < 0x40 || s[i] > 0x7e) {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
