package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/campaign/summary"
	"github.com/vpt-dev/vpt/internal/golden"
	"github.com/vpt-dev/vpt/store"
)

// xss is what hostile script output looks like; none of it may run.
const xss = `<script>document.title='pwned'</script><img src=x onerror="window.pwned=1">"'&`

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func fixture() *store.Result {
	end := t0.Add(12500 * time.Millisecond)
	code := 1
	return &store.Result{
		ID: "0f2c9a1e-5b7d-4c3e-9a8b-1234567890ab", TeamID: "7fdeb4bb-3639-4ec3-959f-b54769a219ce",
		ScriptName: "zap " + xss, ScriptType: "zap", ScriptPath: "/scripts/zap.py", Parameters: []string{"--channels", xss},
		UserInterface: "horizon_tv", HostName: "lab-1", DeviceID: "device1", DeviceName: "Virtual STB", DeviceModel: "virtual",
		Status: store.StatusFailed, ExitCode: &code, ErrorMsg: "step 2 failed: " + xss, StartedAt: t0, CompletedAt: &end,
		ExecutionTimeMs: 12500, RunDir: "/results/runs/0f2c9a1e",
		Metadata: map[string]any{"build": "1.2.3", "payload": xss, "nested": map[string]any{"a": []any{1, 2}}},
		Details: store.Details{
			Summary: "zapped " + xss, VerdictSource: "api", OutputBytes: 120, OutputLines: 3,
			Video: &store.Video{Path: "video.mp4", DurationMs: 12400, OffsetMs: 250, State: "finalised"},
			Screenshots: []store.Screenshot{
				{Label: "initial", Path: "screenshots/001-initial.png", Thumbnail: "screenshots/001-initial.thumb.jpg", OffsetMs: 300},
				{Label: "home to live", Path: "screenshots/002-home-to-live.png", Thumbnail: "screenshots/002-home-to-live.thumb.jpg", OffsetMs: 900},
				{Label: xss, Path: "screenshots/003-x.png", Thumbnail: "screenshots/003-x.thumb.jpg", OffsetMs: 5000},
				{Label: "final", Path: "screenshots/004-final.png", Thumbnail: "screenshots/004-final.thumb.jpg", OffsetMs: 12400},
			},
			Steps: []store.Step{
				{Number: 1, Name: "Home → Live TV", Kind: "navigation", Status: store.StatusPassed, From: "home", To: "live",
					Actions:       []store.Action{{Command: "press_key", Params: map[string]string{"key": "OK"}, Passed: true}},
					Verifications: []store.Verification{{Type: "image", Label: "live", Passed: true, Score: 0.98, Threshold: 0.9, Reference: "references/horizon_tv/live.png", Source: "screenshots/002-home-to-live.png"}},
					Screenshots:   []int{0, 1}, OffsetMs: 400, DurationMs: 520},
				{Number: 2, Name: xss, Kind: "step", Status: store.StatusFailed, Error: "ValueError: " + xss,
					Traceback:   "Traceback (most recent call last):\n  File \"zap.py\", line 3\nValueError: " + xss,
					Screenshots: []int{2}, OffsetMs: 4000, DurationMs: 1000, Recovered: true},
			},
		},
	}
}

var fixtureLog = []byte("plain line\n\x1b[1;31mred bold\x1b[0m and \x1b[32mgreen\x1b[0m " + xss + "\nprogress 10%\rprogress 100%\nbad \xff byte\n")

func TestRunReportGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderRun(&buf, fixture(), fixtureLog, true); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	golden.Check(t, "run.html", buf.Bytes())
	// The payload appears only escaped.
	if strings.Contains(html, "<script>document.title") || strings.Contains(html, "<img src=x") {
		t.Fatal("unescaped script output in the report")
	}
	for _, want := range []string{`&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;`, `src="video.mp4"`,
		`<span class="b fg2">red bold</span>`, "progress 100%", "bad \uFFFD byte", `href="output.log"`} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Error("the report links something remote: it must open offline")
	}
}

func TestParseLog(t *testing.T) {
	lines := ParseLog([]byte("a\x1b[31mb\x1b[39mc\x1b]0;title\x07d\x1b[2Ke\r\nx\ry\nlast"))
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	var got []string
	for _, l := range lines {
		var parts []string
		for _, s := range l.Spans {
			parts = append(parts, s.Class+":"+s.Text)
		}
		got = append(got, strings.Join(parts, "|"))
	}
	if want := []string{":a|fg2:b|:cde", ":y", ":last"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if s := StripANSI([]byte("\x1b[1mok\x1b[0m\n")); s != "ok\n" {
		t.Fatalf("strip: %q", s)
	}
}

func TestJUnitGolden(t *testing.T) {
	r := fixture()
	passed := fixture()
	passed.ID, passed.ScriptName, passed.Status, passed.ErrorMsg = "1a2b3c4d-0000-4000-8000-000000000002", "goto", store.StatusPassed, ""
	timeout := fixture()
	timeout.ID, timeout.ScriptName, timeout.Status, timeout.ErrorMsg = "1a2b3c4d-0000-4000-8000-000000000003", "slow", store.StatusTimeout, "timed out"
	dev1 := []JUnitProperty{{"device", "device1"}, {"attempts", "1"}}
	j := JUnit{Name: "nightly", Cases: []JUnitCase{
		{Name: r.ScriptName, Suite: "nightly", Classname: "nightly", Status: r.Status, Result: r, Attempts: 2, Tail: fixtureLog, Duration: 12500 * time.Millisecond,
			Properties: []JUnitProperty{{"device", "device1"}, {"attempts", "2"}, {"parameter.channels", xss}},
			Reruns:     []JUnitRerun{{Attempt: 1, Status: store.StatusTimeout, Message: "timed out after 10s"}},
			History:    []string{"attempt 1: timeout on device2 in 10.0s", "attempt 2: failed on device1 in 2.5s: step 2 failed"}},
		{Name: "goto", Suite: "nightly", Classname: "nightly", Status: store.StatusPassed, Result: passed, Attempts: 1, Duration: 1500 * time.Millisecond, Properties: dev1},
		{Name: "goto", Suite: "nightly", Classname: "nightly", Status: store.StatusPassed, Result: passed, Attempts: 2, Note: "flaky: failed on attempt 1, passed on attempt 2", Duration: 2 * time.Second,
			Flaky: true, Reruns: []JUnitRerun{{Attempt: 1, Status: store.StatusFailed, Message: "exit code 1"}},
			Properties: []JUnitProperty{{"device", "device2"}, {"attempts", "2"}, {"flaky", "true"}}},
		{Name: "slow", Suite: "nightly", Classname: "nightly", Status: store.StatusTimeout, Result: timeout, Attempts: 1, Duration: time.Minute},
		{Name: "never", Suite: "nightly", Classname: "nightly", Status: store.StatusNotRun, Note: "not run: the campaign timed out"},
	}}
	b, err := j.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "junit.xml", b)
	var doc junitSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 5 || doc.Failures != 1 || doc.Errors != 1 || doc.Skipped != 1 || doc.Suites[0].Cases[2].Name != "goto (2)" {
		t.Fatalf("counts: %+v", doc)
	}
	if !strings.Contains(string(b), "[[ATTACHMENT|/results/runs/0f2c9a1e/video.mp4]]") || strings.Contains(string(b), "\x1b") {
		t.Fatal("attachments missing or ANSI left in system-out")
	}
}

func TestCampaignReport(t *testing.T) {
	dir := t.TempDir()
	c := &store.Campaign{ID: "c1", ExecutionID: "campaign_exec_1_abcdef12", Name: "Nightly " + xss, CampaignID: "nightly",
		Status: "failed", StartedAt: t0, ExecutionTimeMs: 60000, HostName: "lab-1", ShardTotal: 1,
		Stats: store.CampaignStats{Total: 3, Passed: 1, Flaky: 1, Failed: 0, NotRun: 1},
		ScriptConfigurations: []map[string]any{{"script_name": "goto", "parameters": map[string]any{"node": "live", "n": 2.5, "fast": true}},
			{"script_name": xss, "name": "hostile"}, {"script_name": "zap"}}}
	entries := []store.CampaignEntry{
		{Index: 0, Attempt: 1, ScriptName: "goto", DeviceID: "device1", Status: store.StatusFailed, StartedAt: t0, DurationMs: 1000, ScriptResultID: "r1"},
		{Index: 0, Attempt: 2, ScriptName: "goto", DeviceID: "device2", Status: store.StatusPassed, StartedAt: t0.Add(2 * time.Second), DurationMs: 1000, ScriptResultID: "r2"},
		{Index: 1, Attempt: 1, ScriptName: xss, DeviceID: "device1", Status: store.StatusPassed, StartedAt: t0.Add(time.Second), DurationMs: 3000},
		{Index: 2, Attempt: 1, ScriptName: "zap", Status: store.StatusNotRun, Error: "not run: stopped after a failure"},
	}
	runDir := filepath.Join(dir, "runs", "r2")
	os.MkdirAll(runDir, 0o755)
	os.WriteFile(filepath.Join(runDir, ReportHTML), []byte("x"), 0o644)
	results := map[string]*store.Result{"r2": {ID: "r2", RunDir: runDir}, "r1": {ID: "r1", HTMLReportR2URL: "https://pub.example/r1/report.html"}}
	cdir := filepath.Join(dir, "campaigns", c.ExecutionID)
	sum := summary.Build(c, entries, results, RunLink(cdir))
	if len(sum.Entries) != 3 || sum.Entries[0].Status != store.StatusFlaky || sum.Entries[2].Status != store.StatusNotRun {
		t.Fatalf("summary %+v", sum.Entries)
	}
	if got := []string{sum.Entries[0].Label, sum.Entries[1].Label, sum.Entries[2].Label}; fmt.Sprint(got) != "[goto[fast=true,n=2.5,node=live] hostile zap]" {
		t.Fatalf("labels %q", got)
	}
	if sum.Entries[0].Parameters["n"] != "2.5" {
		t.Fatalf("parameters %v", sum.Entries[0].Parameters)
	}
	if sum.Entries[0].Attempts[1].Report != "../../runs/r2/report.html" || sum.Entries[0].Attempts[0].Report != "https://pub.example/r1/report.html" {
		t.Fatalf("links %+v", sum.Entries[0].Attempts)
	}
	if err := WriteCampaign(cdir, sum, results); err != nil {
		t.Fatal(err)
	}
	html, _ := os.ReadFile(filepath.Join(cdir, CampaignHTML))
	if bytes.Contains(html, []byte("<script>document.title")) || bytes.Contains(html, []byte("<img src=x")) {
		t.Fatal("unescaped text in the campaign report")
	}
	for _, f := range []string{SummaryJSON, JUnitXML} {
		if _, err := os.Stat(filepath.Join(cdir, f)); err != nil {
			t.Fatal(err)
		}
	}
}

// A campaign of 10,000 entries stays a page a browser opens: under 5 MB.
func TestCampaignReportSize(t *testing.T) {
	sum := bigCampaign(10000)
	var buf bytes.Buffer
	if err := RenderCampaign(&buf, sum); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 5<<20 {
		t.Fatalf("%d bytes for 10,000 entries", buf.Len())
	}
}

func bigCampaign(n int) summary.Summary {
	c := &store.Campaign{ID: "c", ExecutionID: "campaign_exec_1_00000000", Name: "big", Status: "completed", StartedAt: t0,
		ExecutionTimeMs: int64(n) * 250, Stats: store.CampaignStats{Total: n, Passed: n}}
	sum := summary.Summary{Schema: summary.Schema, Campaign: c}
	for i := 0; i < n; i++ {
		dev := fmt.Sprintf("device%d", i%4+1)
		sum.Entries = append(sum.Entries, summary.Entry{Index: i, Script: fmt.Sprintf("suite/script_%04d", i), Device: dev,
			Status: store.StatusPassed, DurationMs: 1000, Attempts: []summary.Attempt{{Attempt: 1, Status: store.StatusPassed, Device: dev,
				ResultID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), OffsetMs: int64(i/4) * 1000, DurationMs: 1000,
				Report: fmt.Sprintf("../../runs/%08d-0000-4000-8000-000000000000/report.html", i)}}})
	}
	return sum
}

func BenchmarkRenderRun200Steps400Shots(b *testing.B) {
	r := bigRun()
	log := bytes.Repeat([]byte("a line of output with \x1b[32mcolour\x1b[0m\n"), 1500)
	var buf bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := RenderRun(&buf, r, log, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes")
}

func bigRun() *store.Result {
	r := fixture()
	r.Details.Screenshots = nil
	r.Details.Steps = nil
	for i := 0; i < 400; i++ {
		r.Details.Screenshots = append(r.Details.Screenshots, store.Screenshot{Label: fmt.Sprintf("shot %d", i),
			Path: fmt.Sprintf("screenshots/%03d-x.png", i), Thumbnail: fmt.Sprintf("screenshots/%03d-x.thumb.jpg", i), OffsetMs: int64(i) * 100})
	}
	for i := 0; i < 200; i++ {
		r.Details.Steps = append(r.Details.Steps, store.Step{Number: i + 1, Name: fmt.Sprintf("node%d → node%d", i, i+1), Kind: "navigation",
			Status: store.StatusPassed, From: fmt.Sprintf("node%d", i), To: fmt.Sprintf("node%d", i+1),
			Actions:       []store.Action{{Command: "press_key", Params: map[string]string{"key": "DOWN"}, Passed: true}},
			Verifications: []store.Verification{{Type: "image", Label: "x", Passed: true, Score: 0.99, Threshold: 0.9, Reference: "references/x.png", Source: "screenshots/001-x.png"}},
			Screenshots:   []int{2 * i, 2*i + 1}, OffsetMs: int64(i) * 200, DurationMs: 150})
	}
	return r
}

func BenchmarkRenderCampaign10k(b *testing.B) {
	sum := bigCampaign(10000)
	var buf bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		if err := RenderCampaign(&buf, sum); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes")
}

// The evidence of analysis steps and the check of the recording, with
// hostile text where a script or OCR puts text: all of it escaped.
func avFixture() *store.Result {
	r := fixture()
	r.Status, r.ErrorMsg = store.StatusFailed, "A/V check: the picture was frozen for 3.0s from 4.0s (at most 1s allowed)"
	r.Details.Steps = append(r.Details.Steps,
		store.Step{Number: 3, Name: "Zap with CH_UP", Kind: "av", Status: store.StatusPassed, Message: "zap time 0.693s",
			OffsetMs: 6000, DurationMs: 1800, Screenshots: []int{2},
			AV: &store.AVEvidence{Method: "measure_zap", Region: []int{0, 0, 1280, 120},
				Result:    map[string]any{"status": "complete", "black_gap": 0.6, "zap_time": 0.693, "settled": nil},
				Intervals: []store.AVInterval{{Kind: "black", Span: store.Span{StartMs: 6100, EndMs: 6700}}}}},
		store.Step{Number: 4, Name: "Read text", Kind: "av", Status: store.StatusPassed, OffsetMs: 8000,
			AV: &store.AVEvidence{Method: "ocr", Result: map[string]any{"text": xss, "words": []any{map[string]any{"text": xss}}}}},
		store.Step{Number: 5, Name: "Home", Kind: "navigation", Status: store.StatusPassed, OffsetMs: 9000,
			Verifications: []store.Verification{{Type: "text", Label: "home", Passed: true, Detail: "read " + xss}}})
	r.Details.AV = &store.AVCheck{Video: true, Audio: true, Window: store.Span{StartMs: 1000, EndMs: 11000},
		Black:  []store.Span{{StartMs: 6100, EndMs: 6700}},
		Frozen: []store.Span{{StartMs: 4000, EndMs: 7000}}, Silent: []store.Span{},
		MotionRatio: 0.64, Limits: store.AVLimits{MaxBlackMs: 2000, MaxFreezeMs: 1000, MaxSilenceMs: -1},
		Loudness: &store.Loudness{Integrated: -23.1, Range: 2.5, Peak: -20, MaxMomentary: -22.5, MaxShortTerm: -23},
		Problems: []string{"the picture was frozen for 3.0s from 4.0s (at most 1s allowed) " + xss}, ElapsedMs: 640}
	return r
}

func TestRunReportAVGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderRun(&buf, avFixture(), fixtureLog, false); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "run-av.html", buf.Bytes())
	html := buf.String()
	if strings.Contains(html, "<script>document.title") || strings.Contains(html, "<img src=x") || strings.Contains(html, "ZgotmplZ") {
		t.Fatal("unescaped or unsafe text in the report")
	}
	for _, want := range []string{"Picture and sound", "at most 1.0s", "not checked", `style="left: 30%; width: 30%"`,
		"<code>measure_zap</code>", "region [0, 0, 1280, 120]", "zap_time", "0.693", "from 6.1s for 600ms", "-23.1 LUFS",
		`data-at="5850"`} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// Nested metadata reads as indented JSON, its characters escaped for
// HTML once (not as \u003c).
func TestMetadataReadsAsJSON(t *testing.T) {
	r := fixture()
	r.Metadata = map[string]any{"nested": map[string]any{"tag": "<b>&", "n": []any{1, 2}}, "plain": "a<b"}
	var buf bytes.Buffer
	if err := RenderRun(&buf, r, fixtureLog, false); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	page = page[strings.Index(page, `aria-label="Metadata"`):]
	page = page[:strings.Index(page, "</section>")]
	if strings.Contains(page, `\u003c`) || strings.Contains(page, `\u0026`) {
		t.Fatalf("metadata shows JSON's HTML escapes:\n%s", page[:800])
	}
	want := "{\n  &#34;n&#34;: [\n    1,\n    2\n  ],\n  &#34;tag&#34;: &#34;&lt;b&gt;&amp;&#34;\n}"
	if !strings.Contains(page, want) {
		t.Fatalf("nested metadata not as indented JSON; page has:\n%s", page[:600])
	}
	if !strings.Contains(page, "<td class=\"value\">a&lt;b</td>") {
		t.Fatal("a text value is not shown as it is")
	}
}

// A passing entry's test case shows only the end of its output, a failing
// one much more: 10,000 passing entries make a JUnit file CI systems take.
func TestCampaignJUnitTails(t *testing.T) {
	dir := t.TempDir()
	long := bytes.Repeat([]byte("a line of a script's output\n"), 1000) // 28 KB
	c := &store.Campaign{ID: "c", ExecutionID: "campaign_exec_1_00000001", Name: "tails", Status: "completed", StartedAt: t0}
	results := map[string]*store.Result{}
	var entries []store.CampaignEntry
	for i, st := range []store.Status{store.StatusPassed, store.StatusFailed} {
		id := fmt.Sprintf("r%d", i)
		runDir := filepath.Join(dir, id)
		os.MkdirAll(runDir, 0o755)
		os.WriteFile(filepath.Join(runDir, OutputLog), long, 0o644)
		results[id] = &store.Result{ID: id, RunDir: runDir, Status: st}
		entries = append(entries, store.CampaignEntry{Index: i, Attempt: 1, ScriptName: id, Status: st, StartedAt: t0, ScriptResultID: id})
	}
	j := JUnitForCampaign(summary.Build(c, entries, results, RunLink(dir)), results, false)
	b, err := j.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	passed, failed := doc.Suites[0].Cases[0].SystemOut, doc.Suites[0].Cases[1].SystemOut
	if len(passed) > junitPassedBytes+200 || !strings.HasSuffix(passed, "output\n") {
		t.Fatalf("passing entry: %d bytes of system-out", len(passed))
	}
	if len(failed) < len(long) {
		t.Fatalf("failing entry: %d bytes of system-out, want its whole output (%d)", len(failed), len(long))
	}
}
