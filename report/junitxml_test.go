package report

import (
	"encoding/xml"
	"testing"
)

// junitDocs covers every element and attribute of the document, empty and
// not, with text that needs escaping.
func junitDocs(text string) []junitSuites {
	problem := junitProblem{Message: "m " + text, Type: "failed", Text: text}
	full := junitTestCase{
		Name: "n" + text, Classname: "c", File: "f.py", Time: "1.000",
		Properties:   &junitProps{Props: []junitProp{{Name: "device", Value: text}, {Name: "empty"}}},
		Failure:      &problem,
		Error:        &junitProblem{Type: "timeout"},
		Skipped:      &junitSkipped{Message: text},
		FlakyFailure: []junitProblem{problem, problem},
		FlakyError:   []junitProblem{problem},
		RerunFailure: []junitProblem{problem},
		RerunError:   []junitProblem{{}},
		SystemOut:    text,
	}
	// Enough cases for them to be written on several cores.
	many := make([]*junitTestCase, 3000)
	for i := range many {
		many[i] = &junitTestCase{Name: text, Time: "0.100"}
		if i%7 == 0 {
			many[i] = &full
		}
	}
	return []junitSuites{
		{junitCounts: named("empty")},
		{junitCounts: named("many"), Suites: []junitSuite{{junitCounts: named("a"), Cases: many}, {junitCounts: named("b"), Cases: many[:5]}}},
		{junitCounts: junitCounts{Name: text, Tests: 2, Failures: 1, Time: "2.500"}, Suites: []junitSuite{
			{junitCounts: junitCounts{Name: "s", Tests: 2}, Timestamp: "2026-01-01T00:00:00", Hostname: "h" + text,
				Properties: &junitProps{}, Cases: []*junitTestCase{&full, {Name: "bare", Time: "0.000"}}},
			{junitCounts: named("no cases")},
		}},
	}
}

func named(name string) junitCounts { return junitCounts{Name: name} }

func checkJUnitXML(t *testing.T, text string) {
	t.Helper()
	for _, doc := range junitDocs(text) {
		want, err := xml.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := doc.appendXML(nil); string(got) != string(want) {
			t.Fatalf("text %q:\n got %s\nwant %s", text, got, want)
		}
	}
}

// The hand-written document is what encoding/xml writes, byte for byte.
func TestJUnitXMLIsEncodingXML(t *testing.T) {
	for _, text := range []string{"", "plain", `<a href="x">&'</a>`, "tab\tnl\ncr\r", "\x00\x01\x1f", "é ✓ 🙂",
		"\xff\xfe bad utf-8", "\uFFFD real replacement", "\uFFFE\uFFFF", "]]>"} {
		checkJUnitXML(t, text)
	}
}

func FuzzJUnitXML(f *testing.F) {
	f.Add(`<a href="x">&'</a>`)
	f.Add("\xff\x00\t\n")
	f.Fuzz(checkJUnitXML)
}
