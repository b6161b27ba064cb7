package report

import (
	"encoding/xml"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vpt-dev/vpt/internal/parallel"
	"github.com/vpt-dev/vpt/store"
)

// junitOutputBytes bounds the system-out of a test case: CI systems cap
// report sizes (GitLab: 30 MB per file).
const junitOutputBytes = 32 * 1024

// junitPassedBytes bounds the output of a passing campaign entry.
const junitPassedBytes = 2 * 1024

// JUnit XML as GitLab, Jenkins and most CI systems read it.
type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	junitCounts
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	junitCounts
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Hostname   string           `xml:"hostname,attr,omitempty"`
	Properties *junitProps      `xml:"properties,omitempty"`
	Cases      []*junitTestCase `xml:"testcase"`
}

// junitCounts are the attributes the document and each suite have.
type junitCounts struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name         string         `xml:"name,attr"`
	Classname    string         `xml:"classname,attr"`
	File         string         `xml:"file,attr,omitempty"`
	Time         string         `xml:"time,attr"`
	Properties   *junitProps    `xml:"properties,omitempty"`
	Failure      *junitProblem  `xml:"failure,omitempty"`
	Error        *junitProblem  `xml:"error,omitempty"`
	Skipped      *junitSkipped  `xml:"skipped,omitempty"`
	FlakyFailure []junitProblem `xml:"flakyFailure,omitempty"`
	FlakyError   []junitProblem `xml:"flakyError,omitempty"`
	RerunFailure []junitProblem `xml:"rerunFailure,omitempty"`
	RerunError   []junitProblem `xml:"rerunError,omitempty"`
	SystemOut    string         `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnitCase is one test case: a script run, or a campaign entry with its
// attempts (the last one decides).
type JUnitCase struct {
	Name      string
	Suite     string // groups cases into testsuites
	Classname string
	Status    store.Status
	Result    *store.Result // the last attempt, nil when it did not run
	Attempts  int
	Tail      []byte // end of the output
	Note      string // why it did not run, what the retries did
	Duration  time.Duration
	// Properties of the case (device, attempts, parameters, flaky).
	Properties []JUnitProperty
	// Reruns are the earlier attempts that did not pass.
	Reruns []JUnitRerun
	// Flaky: the case passed after Reruns failed.
	Flaky bool
	// History has a line per attempt, for system-out.
	History []string
	// Failed says why a case whose last attempt passed is a failure
	// anyway (a flaky entry under --fail-on-flaky); "" for none.
	Failed string
}

// JUnitProperty is a name and value of a test case's properties.
type JUnitProperty struct{ Name, Value string }

// JUnitRerun is an attempt of a test case that did not pass before the
// last one.
type JUnitRerun struct {
	Attempt int
	Status  store.Status
	Message string
}

// JUnit is a JUnit document in the making.
type JUnit struct {
	Name  string
	Cases []JUnitCase
}

// JUnitForRun is the JUnit document of one run.
// Its identity (classname vpt, the script's name) does not change with the
// device, which is a property.
func JUnitForRun(res *store.Result, tail []byte) JUnit {
	return JUnit{Name: "vpt", Cases: []JUnitCase{{
		Name: res.ScriptName, Suite: "vpt", Classname: "vpt",
		Status: res.Status, Result: res, Attempts: 1, Tail: tail, Duration: time.Duration(res.ExecutionTimeMs) * time.Millisecond,
		Properties: []JUnitProperty{{"device", res.DeviceID}},
	}}}
}

// WriteJUnit writes the document, atomically.
func WriteJUnit(path string, j JUnit) error {
	b, err := j.Marshal()
	if err != nil {
		return err
	}
	return WriteOutputFile(path, b)
}

// caseNames are the cases' names, each once in its class: CI systems
// keep only the first of cases with the same name. A later case of a name
// already used gets " (2)", " (3)"…, the lowest that no case has, so that
// a name given as "ok (2)" stays that case's.
func caseNames(cases []JUnitCase) []string {
	key := func(class, name string) string { return class + "\x00" + name }
	keys := make([]string, len(cases))
	given := make(map[string]bool, len(cases))
	for i, c := range cases {
		keys[i] = key(c.Classname, c.Name)
		given[keys[i]] = true
	}
	used := make(map[string]bool, len(cases))
	next := map[string]int{} // where the search for a free " (n)" goes on
	out := make([]string, len(cases))
	for i, c := range cases {
		name, k := c.Name, keys[i]
		if used[k] {
			base := k
			for n := max(next[base], 2); ; n++ {
				name = fmt.Sprintf("%s (%d)", c.Name, n)
				if k = key(c.Classname, name); !used[k] && !given[k] {
					next[base] = n + 1
					break
				}
			}
		}
		used[k] = true
		out[i] = name
	}
	return out
}

// Marshal renders the XML.
func (j JUnit) Marshal() ([]byte, error) {
	names := caseNames(j.Cases)
	// Cases are made on every core: each is a few strings put together
	// and escaped, a third of writing a large campaign's junit.xml.
	cases := make([]*junitTestCase, len(j.Cases))
	parallel.Chunks(len(j.Cases), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			cases[k] = testCase(j.Cases[k], names[k])
		}
	})
	doc := junitSuites{junitCounts: junitCounts{Name: j.Name}}
	index := map[string]int{}
	var total time.Duration
	var suiteTime []time.Duration
	size := len(xml.Header) + 256 // a guess of the document's length, to grow its buffer once
	for ci, c := range j.Cases {
		i, ok := index[c.Suite]
		if !ok {
			i = len(doc.Suites)
			index[c.Suite] = i
			s := junitSuite{junitCounts: junitCounts{Name: c.Suite}}
			if c.Result != nil {
				s.Timestamp = c.Result.StartedAt.UTC().Format("2006-01-02T15:04:05")
				s.Hostname = c.Result.HostName
			}
			doc.Suites = append(doc.Suites, s)
			suiteTime = append(suiteTime, 0)
		}
		s, tc := &doc.Suites[i], cases[ci]
		if tc.Failure != nil {
			s.Failures++
			doc.Failures++
		}
		if tc.Error != nil {
			s.Errors++
			doc.Errors++
		}
		if tc.Skipped != nil {
			s.Skipped++
			doc.Skipped++
		}
		s.Tests++
		doc.Tests++
		s.Cases = append(s.Cases, tc)
		size += tc.sizeHint()
		suiteTime[i] += c.Duration
		total += c.Duration
	}
	for i := range doc.Suites {
		doc.Suites[i].Time = seconds(suiteTime[i])
	}
	doc.Time = seconds(total)
	b := append(make([]byte, 0, size), xml.Header...)
	return append(doc.appendXML(b), '\n'), nil
}

// testCase is the test case of c, named name.
func testCase(c JUnitCase, name string) *junitTestCase {
	tc := &junitTestCase{Name: name, Classname: c.Classname, Time: seconds(c.Duration)}
	if len(c.Properties) > 0 {
		tc.Properties = &junitProps{}
		for _, p := range c.Properties {
			tc.Properties.Props = append(tc.Properties.Props, junitProp{Name: p.Name, Value: xmlSafe(p.Value)})
		}
	}
	for _, r := range c.Reruns {
		addRerun(tc, r, c.Flaky)
	}
	if r := c.Result; r != nil {
		tc.File = r.ScriptPath
		msg := r.ErrorMsg
		switch c.Status {
		case store.StatusPassed:
			if c.Failed != "" {
				tc.Failure = &junitProblem{Message: c.Failed, Type: "flaky", Text: c.Failed}
			}
		case store.StatusFailed:
			tc.Failure = &junitProblem{Message: firstLineOr(msg, "failed"), Type: "failed", Text: msg}
		case store.StatusTimeout:
			tc.Error = &junitProblem{Message: firstLineOr(msg, "timed out"), Type: "timeout", Text: msg}
		case store.StatusError, store.StatusAbandoned, store.StatusInterrupted, store.StatusRunning:
			tc.Error = &junitProblem{Message: firstLineOr(msg, string(c.Status)), Type: string(c.Status), Text: msg}
		}
	} else if c.Status == store.StatusNotRun || c.Result == nil {
		tc.Skipped = &junitSkipped{Message: firstLineOr(c.Note, "not run")}
	}
	tc.SystemOut = xmlSafe(systemOut(c))
	return tc
}

// systemOut is a case's system-out: why it did not run or what its
// attempts did, its run and report, the files CI systems attach, and the
// end of its output.
func systemOut(c JUnitCase) string {
	var out strings.Builder
	out.Grow(len(c.Note) + len(c.Tail) + 512)
	if c.Note != "" {
		out.WriteString(c.Note + "\n")
	}
	for _, h := range c.History {
		out.WriteString(h + "\n")
	}
	r := c.Result
	if r == nil {
		return out.String()
	}
	writeStrings(&out, "vpt run ", r.ID, " on ", r.DeviceID, " (", r.DeviceModel, "): ", string(r.Status), "\n")
	if c.Attempts > 1 && len(c.History) == 0 {
		fmt.Fprintf(&out, "attempts: %d\n", c.Attempts)
	}
	if r.HTMLReportR2URL != "" {
		writeStrings(&out, "report: ", r.HTMLReportR2URL, "\n")
	}
	if r.RunDir != "" {
		writeStrings(&out, "report: ", filepath.Join(r.RunDir, ReportHTML), "\n")
		// GitLab and Jenkins (junit-attachments) show these files.
		if v := r.Details.Video; v != nil && v.Path != "" {
			writeStrings(&out, "[[ATTACHMENT|", filepath.Join(r.RunDir, v.Path), "]]\n")
		}
		for _, sc := range r.Details.Screenshots {
			writeStrings(&out, "[[ATTACHMENT|", filepath.Join(r.RunDir, sc.Path), "]]\n")
		}
	}
	if tail := StripANSI(c.Tail); tail != "" {
		if len(tail) > junitOutputBytes {
			tail = "…" + tail[len(tail)-junitOutputBytes:]
		}
		out.WriteString("--- output ---\n")
		out.WriteString(tail)
	}
	return out.String()
}

// addRerun records an earlier attempt that did not pass: a flakyFailure
// (or flakyError) when the case passed in the end, else a rerunFailure
// (or rerunError). Failures are the script's; the rest are errors.
func addRerun(tc *junitTestCase, r JUnitRerun, flaky bool) {
	p := junitProblem{Message: xmlSafe(fmt.Sprintf("attempt %d: %s", r.Attempt, r.Message)), Type: string(r.Status)}
	switch {
	case flaky && r.Status == store.StatusFailed:
		tc.FlakyFailure = append(tc.FlakyFailure, p)
	case flaky:
		tc.FlakyError = append(tc.FlakyError, p)
	case r.Status == store.StatusFailed:
		tc.RerunFailure = append(tc.RerunFailure, p)
	default:
		tc.RerunError = append(tc.RerunError, p)
	}
}

// seconds is d as fmt's %.3f writes it.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// writeStrings writes the strings to b, one after the other (fmt's
// formatting took a tenth of a large campaign's JUnit).
func writeStrings(b *strings.Builder, parts ...string) {
	for _, p := range parts {
		b.WriteString(p)
	}
}

// firstLineOr is the first line of s, or def when s is empty.
func firstLineOr(s, def string) string {
	if s == "" {
		return def
	}
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}

// xmlSafe drops characters XML 1.0 cannot hold.
func xmlSafe(s string) string {
	if xmlPlain(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r != 0xFFFE && r != 0xFFFF && !(r >= 0xD800 && r <= 0xDFFF) {
			return r
		}
		return -1
	}, s)
}

// xmlPlain tells that s is printable ASCII, tabs and newlines: xmlSafe's
// common case.
func xmlPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c >= 0x80 {
			return false
		}
	}
	return true
}
