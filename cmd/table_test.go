package cmd

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/vpt-dev/vpt/store"
)

func TestTablePadsByVisibleWidth(t *testing.T) {
	var buf bytes.Buffer
	tw := newTable(&buf)
	fmt.Fprintln(tw, "ID\tSTATUS\tSCRIPT\tDURATION")
	fmt.Fprintf(tw, "a\t%s\tgoto\t1s\n", paint(true, "32", "passed"))
	fmt.Fprintf(tw, "b\t%s\tzap 日本\t2s\n", paint(true, "2", "not_run"))
	fmt.Fprintf(tw, "c\tfailed\tx\t3s\n")
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "ID  STATUS   SCRIPT    DURATION\n" +
		"a   passed   goto      1s\n" +
		"b   not_run  zap 日本  2s\n" +
		"c   failed   x         3s\n"
	if got := stripSGR(buf.String()); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCampaignCountsReadAsEnglish(t *testing.T) {
	for _, c := range []struct {
		s    store.CampaignStats
		want string
	}{
		{store.CampaignStats{Passed: 1, Error: 1}, "1 passed, 1 error"},
		{store.CampaignStats{Passed: 0, Error: 2, NotRun: 1}, "0 passed, 2 errors, 1 not run"},
		{store.CampaignStats{Passed: 3, Flaky: 1, Failed: 1, Timeout: 1}, "3 passed, 1 flaky, 1 failed, 1 timed out"},
	} {
		if got := statsText(c.s); got != c.want {
			t.Errorf("statsText(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
	if plural(1, "script") != "1 script" || plural(0, "script") != "0 scripts" {
		t.Fatal("plural")
	}
}
